package testenv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/anteater-dev/anteater/internal/kafka"
)

// Kafka is an in-memory kfake broker on 127.0.0.1 that a test can stop and
// bring back (as a new, empty instance) on the same address.
type Kafka struct {
	t          testing.TB
	addr       string
	partitions int32
	topics     []string
	broker     *kafka.DevBroker
}

// StartKafka starts a kfake broker on a free loopback port with the topics
// created; it is closed in t.Cleanup.
func StartKafka(t testing.TB, partitions int32, topics ...string) *Kafka {
	t.Helper()
	b, err := kafka.StartDevBroker("127.0.0.1:0", partitions, topics...)
	if err != nil {
		t.Fatalf("start kafka: %v", err)
	}
	k := &Kafka{t: t, addr: b.Addr(), partitions: partitions, topics: topics, broker: b}
	t.Cleanup(k.Stop)
	return k
}

// Addr is the broker's host:port; it stays the same across Restart.
func (k *Kafka) Addr() string { return k.addr }

// Stop closes the broker; all its data is lost.
func (k *Kafka) Stop() {
	if k.broker != nil {
		k.broker.Close()
		k.broker = nil
	}
}

// Restart starts a new, empty broker on the same address with the same
// topics (the old one must be stopped).
func (k *Kafka) Restart() {
	k.t.Helper()
	if k.broker != nil {
		k.t.Fatal("kafka: Restart of a running broker")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := kafka.StartDevBroker(k.addr, k.partitions, k.topics...)
		if err == nil {
			k.broker = b
			return
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("kafka: restart on %s: %v", k.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ReadTopic reads every record of the topic (all partitions, from the
// beginning) with kafka-go, polling until at least want records are there
// or timeout passes. Records come sorted by partition and offset.
func (k *Kafka) ReadTopic(topic string, want int, timeout time.Duration) []kafkago.Message {
	k.t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		msgs, err := readTopic(k.addr, topic)
		if err == nil && len(msgs) >= want {
			return msgs
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("kafka: read %s: got %d records, want %d (last error: %v)", topic, len(msgs), want, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func readTopic(addr, topic string) ([]kafkago.Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := kafkago.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		return nil, err
	}
	var out []kafkago.Message
	for _, p := range parts {
		msgs, err := readPartition(ctx, addr, topic, p.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	return out, nil
}

func readPartition(ctx context.Context, addr, topic string, partition int) ([]kafkago.Message, error) {
	conn, err := kafkago.DialLeader(ctx, "tcp", addr, topic, partition)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	first, last, err := conn.ReadOffsets()
	if err != nil {
		return nil, err
	}
	var out []kafkago.Message
	for off := first; off < last; {
		if _, err := conn.Seek(off, kafkago.SeekAbsolute); err != nil {
			return nil, err
		}
		if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			return nil, err
		}
		batch := conn.ReadBatch(1, 16<<20)
		start := off
		for {
			m, err := batch.ReadMessage()
			if err != nil {
				break
			}
			out = append(out, m)
			off = m.Offset + 1
		}
		cerr := batch.Close()
		if off == start {
			return nil, fmt.Errorf("read %s/%d at offset %d: no progress: %w", topic, partition, off, errors.Join(cerr, errors.New("empty batch")))
		}
	}
	return out, nil
}

// KcatRecord is one record as `kcat -C -J` prints it.
type KcatRecord struct {
	Topic     string   `json:"topic"`
	Partition int32    `json:"partition"`
	Offset    int64    `json:"offset"`
	Key       *string  `json:"key"`
	Payload   *string  `json:"payload"`
	Headers   []string `json:"headers"` // name, value, name, value, ...
}

// Header returns the value of the named header.
func (r KcatRecord) Header(name string) (string, bool) {
	for i := 0; i+1 < len(r.Headers); i += 2 {
		if r.Headers[i] == name {
			return r.Headers[i+1], true
		}
	}
	return "", false
}

// Kcat reads the whole topic with the real kcat binary
// (`kcat -C -b addr -t topic -o beginning -e -J`). The test is skipped when
// kcat is missing, unless ANTEATER_REQUIRE_REAL is set.
func Kcat(t testing.TB, addr, topic string) []KcatRecord {
	t.Helper()
	bin := realBinaryOrSkip(t, "kcat")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-C", "-b", addr, "-t", topic, "-o", "beginning", "-e", "-J", "-q")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat: %v: %s", err, stderr.String())
	}
	var recs []KcatRecord
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var r KcatRecord
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("kcat output %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	sort.Slice(recs, func(i, j int) bool {
		if recs[i].Partition != recs[j].Partition {
			return recs[i].Partition < recs[j].Partition
		}
		return recs[i].Offset < recs[j].Offset
	})
	return recs
}

// realBinaryOrSkip finds a real binary or skips the test, unless
// ANTEATER_REQUIRE_REAL is set, in which case a missing binary fails it.
func realBinaryOrSkip(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("ANTEATER_REQUIRE_REAL") != "" {
		t.Fatalf("%s not found and ANTEATER_REQUIRE_REAL is set: %v", name, err)
	}
	t.Skipf("%s not installed (run make deps): %v", name, err)
	return ""
}
