package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FreeAddr returns a 127.0.0.1:port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("free port: %v", err)
	}
	return addr
}

// process is a real binary started by a test and stopped by PID.
type process struct {
	t    testing.TB
	name string
	bin  string
	args []string
	log  string
	cmd  *exec.Cmd
}

func (p *process) start() {
	p.t.Helper()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		p.t.Fatalf("%s log: %v", p.name, err)
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	// The child holds its own copy of the descriptor.
	_ = f.Close()
	p.cmd = cmd
}

// stop kills the process by its PID and reaps it; it is idempotent.
func (p *process) stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	p.cmd = nil
}

func (p *process) logTail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// waitHTTP polls url until it answers 200 or the process died.
func (p *process) waitHTTP(url string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		cancel()
		if err == nil && resp.StatusCode == http.StatusOK {
			return
		}
		if p.cmd.ProcessState != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.t.Fatalf("%s not ready at %s within %s; log:\n%s", p.name, url, timeout, p.logTail())
}

// NodeExporter is a real prometheus-node-exporter on a loopback port.
type NodeExporter struct {
	p    *process
	Addr string
}

// StartNodeExporter starts prometheus-node-exporter with a few cheap
// collectors (cpu, meminfo, loadavg, diskstats, netdev); it is stopped in
// t.Cleanup.
func StartNodeExporter(t testing.TB) *NodeExporter {
	t.Helper()
	bin := realBinaryOrSkip(t, "prometheus-node-exporter")
	addr := FreeAddr(t)
	n := &NodeExporter{Addr: addr, p: &process{
		t: t, name: "node_exporter", bin: bin, log: filepath.Join(t.TempDir(), "node_exporter.log"),
		args: []string{
			"--web.listen-address=" + addr,
			"--collector.disable-defaults",
			"--collector.cpu", "--collector.meminfo", "--collector.loadavg",
			"--collector.diskstats", "--collector.netdev",
		},
	}}
	n.p.start()
	t.Cleanup(n.p.stop)
	n.p.waitHTTP("http://"+addr+"/metrics", 15*time.Second)
	return n
}

// PrometheusOptions configure StartPrometheus.
type PrometheusOptions struct {
	// ScrapeInterval of every target (default 1s).
	ScrapeInterval time.Duration
	// Targets are host:port addresses scraped at /metrics, one job each
	// (job names target0, target1, ...).
	Targets []string
	// Backfill is OpenMetrics text (with timestamps, ending in "# EOF")
	// turned into TSDB blocks with promtool before Prometheus starts, so
	// tests can have hours of history at once.
	Backfill string
}

// Prometheus is a real Prometheus server on a loopback port with its TSDB
// in a temporary directory.
type Prometheus struct {
	p       *process
	Addr    string
	dataDir string
}

// StartPrometheus starts the Debian prometheus binary; it is stopped in
// t.Cleanup.
func StartPrometheus(t testing.TB, o PrometheusOptions) *Prometheus {
	t.Helper()
	bin := realBinaryOrSkip(t, "prometheus")
	if o.ScrapeInterval == 0 {
		o.ScrapeInterval = time.Second
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o750); err != nil {
		t.Fatal(err)
	}
	if o.Backfill != "" {
		promtool := realBinaryOrSkip(t, "promtool")
		in := filepath.Join(dir, "backfill.om")
		if err := os.WriteFile(in, []byte(o.Backfill), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", in, data).CombinedOutput()
		if err != nil {
			t.Fatalf("promtool backfill: %v\n%s", err, out)
		}
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "global:\n  scrape_interval: %s\n  evaluation_interval: %s\nscrape_configs:\n",
		o.ScrapeInterval, o.ScrapeInterval)
	for i, tg := range o.Targets {
		fmt.Fprintf(&cfg, "  - job_name: target%d\n    static_configs:\n      - targets: [%q]\n", i, tg)
	}
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := FreeAddr(t)
	p := &Prometheus{Addr: addr, dataDir: data, p: &process{
		t: t, name: "prometheus", bin: bin, log: filepath.Join(dir, "prometheus.log"),
		args: []string{
			"--config.file=" + cfgFile,
			"--storage.tsdb.path=" + data,
			"--web.listen-address=" + addr,
			"--storage.tsdb.retention.time=30d",
			"--log.level=warn",
		},
	}}
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

// URL is the server's base URL.
func (p *Prometheus) URL() string { return "http://" + p.Addr }

// Start (re)starts the server on the same address and data and waits until
// it is ready.
func (p *Prometheus) Start() {
	p.p.t.Helper()
	p.p.start()
	p.p.waitHTTP(p.URL()+"/-/ready", 30*time.Second)
}

// Stop kills the server by PID; Start brings it back.
func (p *Prometheus) Stop() { p.p.stop() }
