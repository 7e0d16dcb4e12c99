package webhook

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/alertmanager/template"
	bolt "go.etcd.io/bbolt"
)

var (
	bucketQueue   = []byte("queue")
	bucketDedup   = []byte("dedup")
	bucketDedupBy = []byte("dedup_by_expiry")
)

// queued is one alert waiting for the worker, as stored.
type queued struct {
	Alert    template.Alert `json:"alert"`
	Receiver string         `json:"receiver"`
	GroupKey string         `json:"groupKey"`
	DedupKey string         `json:"dedupKey"`
	Received time.Time      `json:"received"`

	seq uint64
}

// item is one alert of a request to store: its dedup key and encoded record.
type item struct {
	dedupKey []byte
	value    []byte
}

// outcome of one request's commit.
type outcome struct {
	accepted, duplicate int
	full                bool
}

// store is the durable queue and dedup set: one bbolt file, every commit
// fsync'd before the request is answered.
type store struct {
	db     *bolt.DB
	ttl    time.Duration
	length atomic.Int64
}

func openStore(dir string, ttl time.Duration) (*store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create webhook state dir: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dir, "webhook.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("open webhook state: %w", err)
	}
	s := &store{db: db, ttl: ttl}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketQueue, bucketDedup, bucketDedupBy} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		s.length.Store(int64(tx.Bucket(bucketQueue).Stats().KeyN))
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init webhook state: %w", err)
	}
	return s, nil
}

func (s *store) close() error { return s.db.Close() }

func be64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

// commit stores the items of many requests in one transaction (one fsync
// for all: group commit). A request whose new alerts do not fit in the
// queue stores nothing and is marked full. Requests are decided in order,
// so two identical deliveries in one group give one accepted alert.
func (s *store) commit(reqs [][]item, limit int, now time.Time) ([]outcome, error) {
	outs := make([]outcome, len(reqs))
	var added int64
	err := s.db.Update(func(tx *bolt.Tx) error {
		added = 0
		clear(outs)
		q, d, dx := tx.Bucket(bucketQueue), tx.Bucket(bucketDedup), tx.Bucket(bucketDedupBy)
		nowNs := now.UnixNano()
		exp := be64(uint64(now.Add(s.ttl).UnixNano()))
		inTx := map[string]bool{}
		for ri, items := range reqs {
			var fresh []item
			for _, it := range items {
				if inTx[string(it.dedupKey)] {
					outs[ri].duplicate++
					continue
				}
				if e := d.Get(it.dedupKey); e != nil && int64(binary.BigEndian.Uint64(e)) > nowNs {
					outs[ri].duplicate++
					continue
				}
				fresh = append(fresh, it)
			}
			if s.length.Load()+added+int64(len(fresh)) > int64(limit) {
				outs[ri] = outcome{full: true}
				continue
			}
			for _, it := range fresh {
				inTx[string(it.dedupKey)] = true
				if err := d.Put(it.dedupKey, exp); err != nil {
					return err
				}
				if err := dx.Put(append(bytes.Clone(exp), it.dedupKey...), nil); err != nil {
					return err
				}
				seq, err := q.NextSequence()
				if err != nil {
					return err
				}
				if err := q.Put(be64(seq), it.value); err != nil {
					return err
				}
				added++
				outs[ri].accepted++
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("webhook state write: %w", err)
	}
	s.length.Add(added)
	return outs, nil
}

// peek returns up to n of the oldest queued alerts. Unreadable records
// are returned with a zero Alert so the caller can drop them.
func (s *store) peek(n int) ([]queued, error) {
	var out []queued
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketQueue).Cursor()
		for k, v := c.First(); k != nil && len(out) < n; k, v = c.Next() {
			var q queued
			if err := json.Unmarshal(v, &q); err != nil {
				q = queued{}
			}
			q.seq = binary.BigEndian.Uint64(k)
			out = append(out, q)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("webhook state read: %w", err)
	}
	return out, nil
}

// remove deletes handed-over alerts from the queue.
func (s *store) remove(seqs []uint64) error {
	var removed int64
	err := s.db.Update(func(tx *bolt.Tx) error {
		removed = 0
		q := tx.Bucket(bucketQueue)
		for _, seq := range seqs {
			k := be64(seq)
			if q.Get(k) == nil {
				continue
			}
			if err := q.Delete(k); err != nil {
				return err
			}
			removed++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("webhook state delete: %w", err)
	}
	s.length.Add(-removed)
	return nil
}

// prune drops expired dedup keys, at most max per call.
func (s *store) prune(now time.Time, max int) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		n = 0
		d, dx := tx.Bucket(bucketDedup), tx.Bucket(bucketDedupBy)
		limit := be64(uint64(now.UnixNano()))
		var drop [][]byte
		c := dx.Cursor()
		for k, _ := c.First(); k != nil && len(drop) < max && bytes.Compare(k[:8], limit) <= 0; k, _ = c.Next() {
			drop = append(drop, bytes.Clone(k))
		}
		for _, k := range drop {
			if err := dx.Delete(k); err != nil {
				return err
			}
			// A key seen again later has a newer expiry: keep it.
			if e := d.Get(k[8:]); e != nil && bytes.Equal(e, k[:8]) {
				if err := d.Delete(k[8:]); err != nil {
					return err
				}
			}
		}
		n = len(drop)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("webhook state prune: %w", err)
	}
	return n, nil
}
