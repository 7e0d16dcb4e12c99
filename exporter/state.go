package exporter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// stateFile is the bbolt database in the state directory.
const stateFile = "anteater.db"

// stateVersion prefixes every saved series so a future layout can be told
// apart.
const stateVersion = 1

// metaKey holds a job's spec hash and last cycle end; series keys never
// start with 0x00 (they start with a label name).
var metaKey = []byte{0}

var errBadState = errors.New("bad saved state")

// store keeps model state across restarts: one bucket per job, one key per
// series (its exposition labels), valued by the window and the model's
// binary state.
type store struct {
	db *bolt.DB
}

func openStore(dir string) (*store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dir, stateFile), 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", filepath.Join(dir, stateFile), err)
	}
	return &store{db: db}, nil
}

func (st *store) close() error { return st.db.Close() }

// jobMeta reads a job's saved spec hash and last cycle end.
func (st *store) jobMeta(job string) (specHash uint64, lastEnd int64, ok bool) {
	_ = st.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(job))
		if b == nil {
			return nil
		}
		v := b.Get(metaKey)
		if len(v) != 16 {
			return nil
		}
		specHash = binary.BigEndian.Uint64(v)
		lastEnd = int64(binary.BigEndian.Uint64(v[8:]))
		ok = true
		return nil
	})
	return specHash, lastEnd, ok
}

// restore loads saved state into new series of a job built from the spec
// with hash specHash; it returns the series restored.
func (st *store) restore(job string, specHash uint64, ss []*series) (restored int, err error) {
	err = st.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(job))
		if b == nil {
			return nil
		}
		if v := b.Get(metaKey); len(v) != 16 || binary.BigEndian.Uint64(v) != specHash {
			return nil // another model configuration: start fresh
		}
		var errs []error
		for _, s := range ss {
			v := b.Get(s.key())
			if v == nil {
				continue
			}
			if err := s.decodeState(v); err != nil {
				s.model.Reset()
				s.lastTs, s.hasLast = 0, false
				s.win.head, s.win.n, s.win.anomalous = 0, 0, 0
				errs = append(errs, err)
				continue
			}
			restored++
		}
		return errors.Join(errs...)
	})
	return restored, err
}

// save replaces a job's bucket with the state of its series.
func (st *store) save(job string, specHash uint64, lastEnd int64, ss []*series) error {
	return st.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte(job)) != nil {
			if err := tx.DeleteBucket([]byte(job)); err != nil {
				return err
			}
		}
		b, err := tx.CreateBucket([]byte(job))
		if err != nil {
			return err
		}
		b.FillPercent = 0.9
		meta := make([]byte, 16)
		binary.BigEndian.PutUint64(meta, specHash)
		binary.BigEndian.PutUint64(meta[8:], uint64(lastEnd))
		if err := b.Put(metaKey, meta); err != nil {
			return err
		}
		for _, s := range ss {
			v, err := s.encodeState()
			if err != nil {
				return fmt.Errorf("series %s: %w", s.key(), err)
			}
			if err := b.Put(s.key(), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// dropJobs deletes the buckets of jobs no longer configured.
func (st *store) dropJobs(keep map[string]bool) error {
	return st.db.Update(func(tx *bolt.Tx) error {
		var drop [][]byte
		if err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			if !keep[string(name)] {
				drop = append(drop, append([]byte(nil), name...))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, n := range drop {
			if err := tx.DeleteBucket(n); err != nil {
				return err
			}
		}
		return nil
	})
}

// encodeState is: version, last timestamp, window entries (count then
// each), model state (the rest).
func (s *series) encodeState() ([]byte, error) {
	mb, err := s.model.MarshalBinary()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 1+3*binary.MaxVarintLen64+int(s.win.n)*binary.MaxVarintLen64+len(mb))
	b = append(b, stateVersion)
	b = binary.AppendVarint(b, s.lastTs)
	b = binary.AppendUvarint(b, uint64(s.win.n))
	for i := range int(s.win.n) {
		b = binary.AppendVarint(b, s.win.buf[(int(s.win.head)+i)%len(s.win.buf)])
	}
	return append(b, mb...), nil
}

func (s *series) decodeState(b []byte) error {
	if len(b) == 0 || b[0] != stateVersion {
		return fmt.Errorf("%w: unknown version", errBadState)
	}
	b = b[1:]
	ts, k := binary.Varint(b)
	if k <= 0 {
		return fmt.Errorf("%w: timestamp", errBadState)
	}
	b = b[k:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > maxWindowPoints {
		return fmt.Errorf("%w: window size", errBadState)
	}
	b = b[k:]
	entries := make([]int64, 0, n)
	for range n {
		e, k := binary.Varint(b)
		if k <= 0 {
			return fmt.Errorf("%w: window entry", errBadState)
		}
		entries = append(entries, e)
		b = b[k:]
	}
	if err := s.model.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("%w: model: %w", errBadState, err)
	}
	s.lastTs = ts
	// Replay the window into this job's (possibly resized) buffer.
	s.win.head, s.win.n, s.win.anomalous = 0, 0, 0
	for _, e := range entries {
		if int(s.win.n) == len(s.win.buf) {
			s.win.anomalous -= int32(s.win.buf[s.win.head] & 1)
			s.win.head = (s.win.head + 1) % int32(len(s.win.buf))
			s.win.n--
		}
		s.win.buf[(s.win.head+s.win.n)%int32(len(s.win.buf))] = e
		s.win.anomalous += int32(e & 1)
		s.win.n++
	}
	return nil
}
