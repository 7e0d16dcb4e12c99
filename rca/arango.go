package rca

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	driver "github.com/arangodb/go-driver"
	arangohttp "github.com/arangodb/go-driver/http"
)

// ArangoTopology reads gala-spider's topology from ArangoDB. gala-spider
// stores one graph per snapshot: the Timestamps collection names the
// snapshots (its documents' _key is the Unix time), the vertices of a
// snapshot are in ObserveEntities_<ts>, and the edges are in one
// collection per relation (connect, belongs_to, runs_on, is_peer,
// store_in, ...) with the snapshot time in their timestamp field.
// Every query passes collection names and values as bind variables.
type ArangoTopology struct {
	cfg    ArangoConfig
	client driver.Client
}

// ErrNoSnapshot is returned when gala-spider has no snapshot at or before
// the requested time.
var ErrNoSnapshot = errors.New("arangodb: no topology snapshot")

// Attributes of gala-spider vertices that are not identity labels.
var arangoReserved = map[string]bool{
	"_key": true, "_id": true, "_rev": true, "type": true, "level": true,
	"timestamp": true, "metrics": true, "name": true,
}

// NewArangoTopology prepares a client; it does not connect until used.
func NewArangoTopology(cfg ArangoConfig) (*ArangoTopology, error) {
	cfg.SetDefaults()
	if cfg.URL == "" {
		return nil, errors.New("arangodb: url is empty")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	conn, err := arangohttp.NewConnection(arangohttp.ConnectionConfig{Endpoints: []string{cfg.URL}})
	if err != nil {
		return nil, fmt.Errorf("arangodb %s: %w", cfg.URL, err)
	}
	cc := driver.ClientConfig{Connection: conn}
	if cfg.Username != "" {
		cc.Authentication = driver.BasicAuthentication(cfg.Username, cfg.Password)
	}
	client, err := driver.NewClient(cc)
	if err != nil {
		return nil, fmt.Errorf("arangodb %s: %w", cfg.URL, err)
	}
	return &ArangoTopology{cfg: cfg, client: client}, nil
}

// Check asks the server for its version: a cheap reachability and
// authentication test.
func (a *ArangoTopology) Check(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()
	v, err := a.client.Version(ctx)
	if err != nil {
		return "", fmt.Errorf("arangodb %s: version: %w", a.cfg.URL, err)
	}
	return string(v.Version), nil
}

// Graph reads the latest snapshot at or before at.
func (a *ArangoTopology) Graph(ctx context.Context, at time.Time) (*Graph, error) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()
	// The existence check would cost a round trip per call; a missing
	// database fails the first query with a clear error anyway.
	db, err := a.client.Database(driver.WithSkipExistCheck(ctx, true), a.cfg.Database)
	if err != nil {
		return nil, fmt.Errorf("arangodb database %q: %w", a.cfg.Database, err)
	}
	ts, err := a.snapshot(ctx, db, at)
	if err != nil {
		return nil, err
	}
	g := &Graph{}
	vertices := "ObserveEntities_" + ts
	err = query(ctx, db, "FOR v IN @@vertices RETURN v",
		map[string]any{"@vertices": vertices},
		func(doc map[string]any) error {
			id, _ := doc["_id"].(string)
			if id == "" {
				return fmt.Errorf("vertex without _id in %s", vertices)
			}
			typ, _ := doc["type"].(string)
			labels := map[string]string{}
			for k, v := range doc {
				if s, ok := v.(string); ok && !arangoReserved[k] && s != "" {
					labels[k] = s
				}
			}
			return g.AddEntity(Entity{ID: id, Type: typ, Labels: labels})
		})
	if err != nil {
		return nil, fmt.Errorf("arangodb vertices %s: %w", vertices, err)
	}
	tsNum, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("arangodb snapshot %q: not a Unix time: %w", ts, err)
	}
	for _, coll := range a.cfg.EdgeCollections {
		err := query(ctx, db,
			"FOR e IN @@edges FILTER e.timestamp == @ts RETURN {from: e._from, to: e._to, type: e.type}",
			map[string]any{"@edges": coll, "ts": tsNum},
			func(doc map[string]any) error {
				from, _ := doc["from"].(string)
				to, _ := doc["to"].(string)
				typ, _ := doc["type"].(string)
				if typ == "" {
					typ = coll
				}
				if from == "" || to == "" {
					return nil // a dangling edge names nothing to walk to
				}
				return g.AddEdge(Edge{From: from, To: to, Type: typ})
			})
		if driver.IsArangoErrorWithErrorNum(err, driver.ErrArangoDataSourceNotFound) {
			continue // gala-spider creates a relation's collection on first use
		}
		if err != nil {
			return nil, fmt.Errorf("arangodb edges %s: %w", coll, err)
		}
	}
	return g, nil
}

// snapshot is the key of the latest snapshot at or before at.
func (a *ArangoTopology) snapshot(ctx context.Context, db driver.Database, at time.Time) (string, error) {
	var ts string
	err := query(ctx, db,
		"FOR t IN @@timestamps FILTER TO_NUMBER(t._key) <= @ts SORT TO_NUMBER(t._key) DESC LIMIT 1 RETURN t._key",
		map[string]any{"@timestamps": "Timestamps", "ts": at.Unix()},
		func(doc map[string]any) error { return nil },
		func(raw string) { ts = raw })
	if err != nil {
		return "", fmt.Errorf("arangodb timestamps: %w", err)
	}
	if ts == "" {
		return "", fmt.Errorf("%w at or before %s", ErrNoSnapshot, at.UTC().Format(time.RFC3339))
	}
	return ts, nil
}

// query runs an AQL query and hands each result to onDoc (objects) or
// onString (strings), reading every batch of the cursor.
func query(ctx context.Context, db driver.Database, aql string, bind map[string]any, onDoc func(map[string]any) error, onString ...func(string)) error {
	cur, err := db.Query(ctx, aql, bind)
	if err != nil {
		return err
	}
	defer cur.Close()
	for {
		var doc any
		_, err := cur.ReadDocument(ctx, &doc)
		if driver.IsNoMoreDocuments(err) {
			return nil
		}
		if err != nil {
			return err
		}
		switch d := doc.(type) {
		case map[string]any:
			if err := onDoc(d); err != nil {
				return err
			}
		case string:
			for _, f := range onString {
				f(d)
			}
		}
	}
}
