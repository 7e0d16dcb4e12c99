package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/alecthomas/units"
)

// chaosOptions are the flags of the hidden `anteater chaos` command.
type chaosOptions struct {
	cpuWorkers int
	diskDir    string
	diskRate   units.Base2Bytes
	diskSize   units.Base2Bytes
	duration   time.Duration
}

// The demo injects a real fault with this command, as chaosblade's
// `cpu fullload` and `disk burn` do: busy loops on every CPU and a steady
// stream of synced writes. It is one child process that stops by itself
// after --duration, so a demo that dies cannot leave the fault behind.
// Start it under `nice -n 19`: niced busy time still counts as CPU in use,
// while other work keeps its share of the CPUs.
func init() {
	register(subcommand{
		name: "chaos",
		help: "Inject a CPU and disk-write fault for a while (for the demo).",
		setup: func(cmd *kingpin.CmdClause) func(ctx context.Context) int {
			cmd.Hidden()
			o := &chaosOptions{}
			cmd.Flag("cpu.workers", "Busy loops to run; 0 for none, -1 for one per CPU.").Default("-1").IntVar(&o.cpuWorkers)
			cmd.Flag("disk.dir", "Directory to write the burn file in; empty for no disk fault.").StringVar(&o.diskDir)
			cmd.Flag("disk.rate", "Bytes written per second.").Default("64MiB").BytesVar(&o.diskRate)
			cmd.Flag("disk.size", "Size of the burn file, rewritten in a loop.").Default("256MiB").BytesVar(&o.diskSize)
			cmd.Flag("duration", "How long the fault lasts.").Default("2m").DurationVar(&o.duration)
			return func(ctx context.Context) int {
				if err := chaos(ctx, o); err != nil {
					fmt.Fprintln(os.Stderr, "anteater chaos:", err)
					return 1
				}
				return 0
			}
		},
	})
}

func chaos(ctx context.Context, o *chaosOptions) error {
	if o.duration <= 0 {
		return errors.New("--duration must be positive")
	}
	workers := o.cpuWorkers
	if workers < 0 {
		workers = runtime.NumCPU()
	}
	if o.diskDir != "" && (o.diskRate <= 0 || o.diskSize < units.MiB) {
		return errors.New("--disk.rate must be positive and --disk.size at least 1MiB")
	}
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	fmt.Fprintf(os.Stderr, "anteater chaos: pid %d, %d busy loop(s), disk %q at %s/s, for %s\n",
		os.Getpid(), workers, o.diskDir, o.diskRate, o.duration)

	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			burnCPU(ctx)
		}()
	}
	var diskErr error
	if o.diskDir != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			diskErr = burnDisk(ctx, o.diskDir, int64(o.diskRate), int64(o.diskSize))
		}()
	}
	wg.Wait()
	fmt.Fprintln(os.Stderr, "anteater chaos: fault stopped")
	return diskErr
}

// burnCPU spins until ctx is done, checking it every few million
// iterations so the loop costs nothing but CPU.
func burnCPU(ctx context.Context) {
	x := uint64(1)
	for ctx.Err() == nil {
		for i := 0; i < 1<<22; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	_ = x
}

// burnDisk writes rate bytes per second, synced to the device, to a file
// of at most size bytes in dir, and removes it at the end.
func burnDisk(ctx context.Context, dir string, rate, size int64) error {
	f, err := os.CreateTemp(dir, "anteater-chaos-*.burn")
	if err != nil {
		return fmt.Errorf("disk burn: %w", err)
	}
	defer func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}()
	const chunk = 4 << 20
	buf := make([]byte, chunk)
	for i := range buf {
		buf[i] = byte(i*7 + 1) // not zeros, so no layer can skip them
	}
	// A tick per chunk spreads the writes evenly over each second.
	tick := time.NewTicker(time.Duration(float64(time.Second) * chunk / float64(rate)))
	defer tick.Stop()
	var off int64
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if off+chunk > size {
			off = 0
		}
		if _, err := f.WriteAt(buf, off); err != nil {
			return fmt.Errorf("disk burn: write %s: %w", filepath.Base(f.Name()), err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("disk burn: sync: %w", err)
		}
		off += chunk
	}
}
