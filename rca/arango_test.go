package rca

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// arangoDouble serves the part of ArangoDB's REST API the driver uses,
// over gala-spider's layout: Timestamps, ObserveEntities_<ts> and edge
// collections.
type arangoDouble struct {
	t         *testing.T
	snapshots []string
	vertices  map[string][]map[string]any // collection → documents
	edges     map[string][]map[string]any // collection → documents
	batch     int
	fail      map[string]int // bind collection → HTTP status to answer

	mu       sync.Mutex
	requests []cursorRequest
	cursors  map[string][]any
	paths    []string
}

type cursorRequest struct {
	Query     string         `json:"query"`
	BindVars  map[string]any `json:"bindVars"`
	BatchSize int            `json:"batchSize"`
	Auth      string         `json:"-"`
}

func (d *arangoDouble) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.paths = append(d.paths, r.Method+" "+r.URL.Path)
	w.Header().Set("Content-Type", "application/json")
	const cursorPath = "/_db/spider/_api/cursor"
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/_api/version":
		_, _ = w.Write([]byte(`{"server":"arango","version":"3.11.4","license":"community"}`))
	case r.Method == http.MethodPost && r.URL.Path == cursorPath:
		var req cursorRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			d.t.Errorf("cursor body: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		req.Auth = r.Header.Get("Authorization")
		d.requests = append(d.requests, req)
		d.answer(w, req)
	case (r.Method == http.MethodPost || r.Method == http.MethodPut) && strings.HasPrefix(r.URL.Path, cursorPath+"/"):
		id := strings.TrimPrefix(r.URL.Path, cursorPath+"/")
		rest, ok := d.cursors[id]
		if !ok {
			arangoError(w, http.StatusNotFound, 1600, "cursor not found")
			return
		}
		d.page(w, id, rest, http.StatusOK)
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, cursorPath+"/"):
		delete(d.cursors, strings.TrimPrefix(r.URL.Path, cursorPath+"/"))
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"error":false,"code":202}`))
	default:
		arangoError(w, http.StatusNotFound, 404, "unknown path "+r.URL.Path)
	}
}

func (d *arangoDouble) answer(w http.ResponseWriter, req cursorRequest) {
	for _, key := range []string{"@timestamps", "@vertices", "@edges"} {
		coll, _ := req.BindVars[key].(string)
		if coll == "" {
			continue
		}
		if code := d.fail[coll]; code != 0 {
			arangoError(w, code, 1203, "AQL: collection or view not found: "+coll+" (while parsing)")
			return
		}
		var docs []any
		switch key {
		case "@timestamps":
			at := req.BindVars["ts"].(float64)
			best := ""
			for _, s := range d.snapshots {
				var v float64
				_ = json.Unmarshal([]byte(s), &v)
				if v <= at && s > best {
					best = s
				}
			}
			if best != "" {
				docs = append(docs, best)
			}
		case "@vertices":
			vs, ok := d.vertices[coll]
			if !ok {
				arangoError(w, http.StatusNotFound, 1203, "AQL: collection or view not found: "+coll)
				return
			}
			for _, v := range vs {
				docs = append(docs, v)
			}
		case "@edges":
			es, ok := d.edges[coll]
			if !ok {
				arangoError(w, http.StatusNotFound, 1203, "AQL: collection or view not found: "+coll)
				return
			}
			ts := req.BindVars["ts"].(float64)
			for _, e := range es {
				if e["timestamp"].(float64) == ts {
					docs = append(docs, map[string]any{"from": e["_from"], "to": e["_to"], "type": e["type"]})
				}
			}
		}
		d.cursors[coll] = docs
		d.page(w, coll, docs, http.StatusCreated)
		return
	}
	arangoError(w, http.StatusBadRequest, 1552, "no bind parameter names a collection")
}

// page answers one batch of a cursor and keeps the rest for the next
// request, as ArangoDB does with hasMore and id.
func (d *arangoDouble) page(w http.ResponseWriter, id string, docs []any, code int) {
	n := min(d.batch, len(docs))
	more := len(docs) > n
	if more {
		d.cursors[id] = docs[n:]
	} else {
		delete(d.cursors, id)
	}
	body := map[string]any{"result": docs[:n], "hasMore": more, "error": false, "code": code, "cached": false, "extra": map[string]any{}}
	if more {
		body["id"] = id
	}
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

func arangoError(w http.ResponseWriter, code, num int, msg string) {
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": true, "code": code, "errorNum": num, "errorMessage": msg})
}

func newArangoDouble(t *testing.T) *arangoDouble {
	vcoll := "ObserveEntities_1654930858"
	vertex := func(key, typ string, labels map[string]any) map[string]any {
		doc := map[string]any{"_key": key, "_id": vcoll + "/" + key, "_rev": "_x", "type": typ, "level": "PROCESS", "timestamp": 1654930858, "metrics": map[string]any{"fork_count": "0"}}
		for k, v := range labels {
			doc[k] = v
		}
		return doc
	}
	edge := func(coll, from, to string, ts float64) map[string]any {
		return map[string]any{"_key": from + to, "_id": coll + "/" + from + to, "_from": vcoll + "/" + from, "_to": vcoll + "/" + to, "type": coll, "layer": "direct", "timestamp": ts}
	}
	return &arangoDouble{
		t:         t,
		snapshots: []string{"1654930000", "1654930858", "1654999999"},
		batch:     2,
		cursors:   map[string][]any{},
		fail:      map[string]int{},
		vertices: map[string][]map[string]any{vcoll: {
			vertex("HOST_m1", "host", map[string]any{"machine_id": "m1"}),
			vertex("PROC_m1_10", "system_proc", map[string]any{"machine_id": "m1", "tgid": "10", "comm": "redis-server", "pid": "10"}),
			vertex("PROC_m1_20", "system_proc", map[string]any{"machine_id": "m1", "tgid": "20", "comm": "nginx", "pid": "20"}),
			vertex("THREAD_m1_21", "thread", map[string]any{"machine_id": "m1", "tgid": "20", "pid": "21", "comm": "nginx"}),
			vertex("HOST_m2", "host", map[string]any{"machine_id": "m2"}),
		}},
		edges: map[string][]map[string]any{
			"runs_on": {
				edge("runs_on", "PROC_m1_10", "HOST_m1", 1654930858),
				edge("runs_on", "PROC_m1_20", "HOST_m1", 1654930858),
				edge("runs_on", "PROC_m1_20", "HOST_m2", 1654930000), // another snapshot
			},
			"belongs_to": {edge("belongs_to", "THREAD_m1_21", "PROC_m1_20", 1654930858)},
			"connect":    {edge("connect", "PROC_m1_20", "PROC_m1_10", 1654930858)},
			// is_peer and store_in do not exist yet.
		},
	}
}

func TestArangoTopology(t *testing.T) {
	d := newArangoDouble(t)
	srv := httptest.NewServer(d)
	defer srv.Close()
	topo, err := NewArangoTopology(ArangoConfig{URL: srv.URL, Username: "root", Password: "secret"})
	require.NoError(t, err)
	ctx := context.Background()
	v, err := topo.Check(ctx)
	require.NoError(t, err)
	require.Equal(t, "3.11.4", v)

	g, err := topo.Graph(ctx, time.Unix(1654931000, 0))
	require.NoError(t, err)
	require.Equal(t, 5, g.Len(), "all vertices, read over three batches")
	p := "ObserveEntities_1654930858/"
	require.Equal(t, []Edge{
		{From: p + "PROC_m1_10", To: p + "HOST_m1", Type: "runs_on"},
		{From: p + "PROC_m1_20", To: p + "HOST_m1", Type: "runs_on"},
		{From: p + "PROC_m1_20", To: p + "PROC_m1_10", Type: "connect"},
		{From: p + "THREAD_m1_21", To: p + "PROC_m1_20", Type: "belongs_to"},
	}, g.Edges())
	e, ok := g.Entity(p + "PROC_m1_10")
	require.True(t, ok)
	require.Equal(t, "system_proc", e.Type)
	require.Equal(t, map[string]string{"machine_id": "m1", "tgid": "10", "comm": "redis-server", "pid": "10"}, e.Labels)

	// A process series resolves to its process, a host series to its host.
	id, ok := g.Resolve(map[string]string{"machine_id": "m1", "tgid": "10", "comm": "redis-server", "job": "gopher"})
	require.True(t, ok)
	require.Equal(t, p+"PROC_m1_10", id)
	id, ok = g.Resolve(map[string]string{"machine_id": "m1", "job": "gopher"})
	require.True(t, ok)
	require.Equal(t, p+"HOST_m1", id)

	d.mu.Lock()
	defer d.mu.Unlock()
	require.Equal(t, "FOR t IN @@timestamps FILTER TO_NUMBER(t._key) <= @ts SORT TO_NUMBER(t._key) DESC LIMIT 1 RETURN t._key", d.requests[0].Query)
	require.Equal(t, map[string]any{"@timestamps": "Timestamps", "ts": float64(1654931000)}, d.requests[0].BindVars)
	require.Equal(t, map[string]any{"@vertices": "ObserveEntities_1654930858"}, d.requests[1].BindVars)
	require.Contains(t, d.requests[1].Query, "@@vertices")
	var edgeColls []string
	for _, r := range d.requests[2:] {
		require.Equal(t, float64(1654930858), r.BindVars["ts"])
		require.Contains(t, r.Query, "@@edges")
		edgeColls = append(edgeColls, r.BindVars["@edges"].(string))
	}
	require.Equal(t, DefaultEdgeCollections, edgeColls)
	for _, r := range d.requests {
		require.Equal(t, "Basic cm9vdDpzZWNyZXQ=", r.Auth, "root:secret")
		require.NotContains(t, r.Query, "ObserveEntities_", "collection names travel as bind variables")
	}
	require.Contains(t, d.paths, "POST /_db/spider/_api/cursor/ObserveEntities_1654930858", "next batches are fetched")
	require.Empty(t, d.cursors, "every cursor was read to the end")
}

func TestArangoTopologyErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("vertex collection not found", func(t *testing.T) {
		d := newArangoDouble(t)
		d.fail["ObserveEntities_1654930858"] = http.StatusNotFound
		srv := httptest.NewServer(d)
		defer srv.Close()
		topo, err := NewArangoTopology(ArangoConfig{URL: srv.URL})
		require.NoError(t, err)
		_, err = topo.Graph(ctx, time.Unix(1654931000, 0))
		require.ErrorContains(t, err, "arangodb vertices ObserveEntities_1654930858")
		require.ErrorContains(t, err, "collection or view not found")
	})
	t.Run("server error", func(t *testing.T) {
		d := newArangoDouble(t)
		d.fail["Timestamps"] = http.StatusInternalServerError
		srv := httptest.NewServer(d)
		defer srv.Close()
		topo, err := NewArangoTopology(ArangoConfig{URL: srv.URL})
		require.NoError(t, err)
		_, err = topo.Graph(ctx, time.Unix(1654931000, 0))
		require.ErrorContains(t, err, "arangodb timestamps")
	})
	t.Run("no snapshot", func(t *testing.T) {
		d := newArangoDouble(t)
		srv := httptest.NewServer(d)
		defer srv.Close()
		topo, err := NewArangoTopology(ArangoConfig{URL: srv.URL})
		require.NoError(t, err)
		_, err = topo.Graph(ctx, time.Unix(1000, 0))
		require.ErrorIs(t, err, ErrNoSnapshot)
	})
	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		topo, err := NewArangoTopology(ArangoConfig{URL: url, Timeout: time.Second})
		require.NoError(t, err)
		_, err = topo.Graph(ctx, time.Unix(1654931000, 0))
		require.Error(t, err)
	})
	t.Run("bad config", func(t *testing.T) {
		_, err := NewArangoTopology(ArangoConfig{})
		require.ErrorContains(t, err, "url is empty")
		_, err = NewArangoTopology(ArangoConfig{URL: "localhost:8529"})
		require.ErrorContains(t, err, "want http(s)://host:port")
	})
}
