// Package testenv starts the real parts anteater's integration tests run
// against (Alertmanager, Prometheus, a Kafka broker) on loopback, each with
// its own temporary directory, stopped by PID when the test ends.
package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Alertmanager is a running prometheus-alertmanager process.
type Alertmanager struct {
	// URL is the base URL, e.g. http://127.0.0.1:40123.
	URL string
	// PID of the process.
	PID int
	// Dir holds its config and storage.
	Dir string

	cmd *exec.Cmd
	log *SyncBuffer
}

// StartAlertmanager runs the Debian binary prometheus-alertmanager with
// the given configuration on a free 127.0.0.1 port, clustering off. The
// test is skipped when the binary is missing, unless ANTEATER_REQUIRE_REAL
// is set.
func StartAlertmanager(t testing.TB, configYAML string) *Alertmanager {
	t.Helper()
	bin := realBinaryOrSkip(t, "prometheus-alertmanager")
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfgFile, []byte(configYAML), 0o600); err != nil {
		t.Fatalf("alertmanager: write config: %v", err)
	}
	for attempt := 0; ; attempt++ {
		addr, err := amFreeLoopbackAddr()
		if err != nil {
			t.Fatalf("alertmanager: %v", err)
		}
		log := &SyncBuffer{}
		cmd := exec.Command(bin,
			"--config.file="+cfgFile,
			"--storage.path="+filepath.Join(dir, "data"),
			"--web.listen-address="+addr,
			"--cluster.listen-address=",
			"--log.level=warn",
		)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatalf("alertmanager: start: %v", err)
		}
		am := &Alertmanager{URL: "http://" + addr, PID: cmd.Process.Pid, Dir: dir, cmd: cmd, log: log}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		stop := func() {
			_ = syscall.Kill(am.PID, syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(am.PID, syscall.SIGKILL)
				<-exited
			}
		}
		if err := amWaitReady(am.URL, exited, 20*time.Second); err != nil {
			stop()
			// Another process may have taken the port in between: retry.
			if attempt < 2 && strings.Contains(log.String(), "address already in use") {
				continue
			}
			t.Fatalf("alertmanager: %v\n%s", err, log.String())
		}
		t.Cleanup(func() {
			stop()
			if t.Failed() {
				t.Logf("alertmanager log:\n%s", log.String())
			}
		})
		return am
	}
}

// AddAlert fires an alert through amtool (as an operator would), or through
// the v2 API when amtool is missing.
func (a *Alertmanager) AddAlert(t testing.TB, labels, annotations map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if bin, err := exec.LookPath("amtool"); err == nil {
		args := []string{"alert", "add", "--alertmanager.url=" + a.URL}
		for _, k := range sortedKeys(annotations) {
			args = append(args, "--annotation="+k+"="+annotations[k])
		}
		for _, k := range sortedKeys(labels) {
			args = append(args, k+"="+labels[k])
		}
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("amtool alert add: %v: %s", err, out)
		}
		return
	}
	var b strings.Builder
	b.WriteString(`[{"labels":{`)
	writeKV(&b, labels)
	b.WriteString(`},"annotations":{`)
	writeKV(&b, annotations)
	b.WriteString(`}}]`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.URL+"/api/v2/alerts", strings.NewReader(b.String()))
	if err != nil {
		t.Fatalf("alertmanager: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("alertmanager: post alert: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("alertmanager: post alert: %s", resp.Status)
	}
}

// Log returns what the process printed so far.
func (a *Alertmanager) Log() string { return a.log.String() }

func writeKV(b *strings.Builder, m map[string]string) {
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(b, "%q:%q", k, m[k])
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func amFreeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func amWaitReady(url string, exited <-chan error, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("exited before ready: %v", err)
		default:
		}
		resp, err := http.Get(url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %s", timeout)
}

// SyncBuffer is a bytes.Buffer safe for concurrent writes and reads
// (a process's output, a logger used by several goroutines).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
