package kafka

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/anteater-dev/anteater/internal/event"
)

// ErrClosed is returned by Enqueue after the publisher stopped.
var ErrClosed = errors.New("kafka outbox closed")

// Message is one event handed to the publisher.
type Message struct {
	// Kind selects the topic and the CloudEvents type.
	Kind event.Kind
	// Key is the record key: the entity id (anomaly) or event id (cause).
	Key string
	// ID is the stable event id, sent as ce_id.
	ID string
	// Time is the event time, sent as ce_time.
	Time time.Time
	// Value is the JSON-encoded event.
	Value []byte
	// DedupKey, when set, makes Enqueue idempotent: a message whose key
	// was enqueued within the dedup TTL is dropped.
	DedupKey string
}

// record is a message as stored in the outbox.
type record struct {
	Kind     event.Kind `json:"kind"`
	Topic    string     `json:"topic"`
	Key      string     `json:"key"`
	ID       string     `json:"id"`
	Time     time.Time  `json:"time"`
	Value    []byte     `json:"value"`
	Enqueued time.Time  `json:"enqueued"`

	seq uint64
}

var (
	bucketMsgs    = []byte("messages")
	bucketDedup   = []byte("dedup")
	bucketDedupBy = []byte("dedup_by_expiry")
)

// outbox is the durable, ordered store of messages not yet acknowledged by
// Kafka: a bbolt file whose commits are fsync'd.
type outbox struct {
	db  *bolt.DB
	ttl time.Duration

	mu     sync.Mutex
	count  int
	oldest time.Time // enqueue time of the oldest message; zero when empty
}

func openOutbox(dir string, ttl time.Duration) (*outbox, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create outbox dir: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dir, "outbox.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("open outbox: %w", err)
	}
	o := &outbox{db: db, ttl: ttl}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMsgs, bucketDedup, bucketDedupBy} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		b := tx.Bucket(bucketMsgs)
		o.count = b.Stats().KeyN
		if _, v := b.Cursor().First(); v != nil {
			var r record
			if err := json.Unmarshal(v, &r); err == nil {
				o.oldest = r.Enqueued
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init outbox: %w", err)
	}
	return o, nil
}

func (o *outbox) close() error { return o.db.Close() }

// stats returns the number of messages and the enqueue time of the oldest.
func (o *outbox) stats() (int, time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.count, o.oldest
}

func be64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

// add stores the messages in one fsync'd transaction and returns how many
// were new (not dropped as duplicates).
func (o *outbox) add(cfg *Config, now time.Time, msgs []Message) (int, error) {
	added := 0
	err := o.db.Update(func(tx *bolt.Tx) error {
		added = 0
		b, d, dx := tx.Bucket(bucketMsgs), tx.Bucket(bucketDedup), tx.Bucket(bucketDedupBy)
		for _, m := range msgs {
			if m.DedupKey != "" {
				dk := []byte(string(m.Kind) + "\x00" + m.DedupKey)
				if exp := d.Get(dk); exp != nil && int64(binary.BigEndian.Uint64(exp)) > now.UnixNano() {
					continue
				}
				exp := be64(uint64(now.Add(o.ttl).UnixNano()))
				if err := d.Put(dk, exp); err != nil {
					return err
				}
				if err := dx.Put(append(append([]byte{}, exp...), dk...), nil); err != nil {
					return err
				}
			}
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			v, err := json.Marshal(record{Kind: m.Kind, Topic: cfg.Topic(m.Kind), Key: m.Key, ID: m.ID, Time: m.Time, Value: m.Value, Enqueued: now})
			if err != nil {
				return err
			}
			if err := b.Put(be64(seq), v); err != nil {
				return err
			}
			added++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("outbox write: %w", err)
	}
	if added > 0 {
		o.mu.Lock()
		if o.count == 0 {
			o.oldest = now
		}
		o.count += added
		o.mu.Unlock()
	}
	return added, nil
}

// peek returns up to n of the oldest messages.
func (o *outbox) peek(n int) ([]record, error) {
	var out []record
	err := o.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketMsgs).Cursor()
		for k, v := c.First(); k != nil && len(out) < n; k, v = c.Next() {
			var r record
			if err := json.Unmarshal(v, &r); err != nil {
				// A record that cannot be read would block the outbox
				// forever; it cannot be published either, so it is
				// reported and skipped by the caller.
				r = record{ID: "<corrupt>", Topic: ""}
			}
			r.seq = binary.BigEndian.Uint64(k)
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox read: %w", err)
	}
	return out, nil
}

// remove deletes acknowledged messages and prunes expired dedup keys.
func (o *outbox) remove(seqs []uint64, now time.Time) error {
	var deleted int
	var oldest time.Time
	err := o.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMsgs)
		deleted = 0
		for _, s := range seqs {
			k := be64(s)
			if b.Get(k) == nil {
				continue
			}
			if err := b.Delete(k); err != nil {
				return err
			}
			deleted++
		}
		oldest = time.Time{}
		if _, v := b.Cursor().First(); v != nil {
			var r record
			if err := json.Unmarshal(v, &r); err == nil {
				oldest = r.Enqueued
			}
		}
		return pruneDedup(tx, now)
	})
	if err != nil {
		return fmt.Errorf("outbox delete: %w", err)
	}
	o.mu.Lock()
	o.count -= deleted
	o.oldest = oldest
	o.mu.Unlock()
	return nil
}

// pruneDedup drops dedup keys whose expiry passed, oldest first, a bounded
// number per call so one transaction stays short.
func pruneDedup(tx *bolt.Tx, now time.Time) error {
	d, dx := tx.Bucket(bucketDedup), tx.Bucket(bucketDedupBy)
	c := dx.Cursor()
	limit := bytes.Clone(be64(uint64(now.UnixNano())))
	var drop [][]byte
	for k, _ := c.First(); k != nil && len(drop) < 10000 && bytes.Compare(k[:8], limit) <= 0; k, _ = c.Next() {
		drop = append(drop, bytes.Clone(k))
	}
	for _, k := range drop {
		if err := dx.Delete(k); err != nil {
			return err
		}
		dk := k[8:]
		// A key re-added later has a newer expiry: keep it.
		if exp := d.Get(dk); exp != nil && bytes.Equal(exp, k[:8]) {
			if err := d.Delete(dk); err != nil {
				return err
			}
		}
	}
	return nil
}
