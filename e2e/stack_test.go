package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// requireBinary finds a real binary; a missing one skips the test unless
// ANTEATER_REQUIRE_REAL is set, in which case it fails it.
func requireBinary(t *testing.T, name string) string {
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

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// anteaterBinary returns $ANTEATER_BIN, or builds ./cmd/anteater once for
// the whole test binary (without -race: the binary is the product, the
// race detector watches this test's own code).
func anteaterBinary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("ANTEATER_BIN"); b != "" {
		return b
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "anteater-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "anteater")
		goBin, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("go not in PATH to build anteater (or set ANTEATER_BIN): %w", err)
			return
		}
		cmd := exec.Command(goBin, "build", "-o", builtBin, "./cmd/anteater")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/anteater: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// proc is a process started by the test and stopped by its PID.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// startProc runs bin with args, its output in dir/name.log, and stops it
// (SIGTERM, SIGKILL after 10s) when the test ends.
func startProc(t *testing.T, dir, name, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		_ = f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	_ = f.Close() // the child has its own descriptor
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s log (tail):\n%s", name, p.tail(6000))
		}
	})
	return p
}

func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) tail(n int) string {
	b, _ := os.ReadFile(p.log)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// waitOK polls url until it answers 200, failing when p exits first.
func waitOK(t *testing.T, p *proc, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if p.exited() {
			t.Fatalf("%s exited before %s answered:\n%s", p.name, url, p.tail(4000))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %s not OK after %s:\n%s", p.name, url, timeout, p.tail(4000))
}

// repoPath is a path of this repository, absolute.
func repoPath(t *testing.T, elem ...string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(append([]string{".."}, elem...)...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func hostPort(url string) string {
	return strings.TrimPrefix(strings.TrimPrefix(url, "http://"), "https://")
}
