package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/alecthomas/units"
	"github.com/stretchr/testify/require"
)

func TestChaosStopsByItselfAndCleansUp(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	err := chaos(context.Background(), &chaosOptions{
		cpuWorkers: 1, diskDir: dir, diskRate: 64 * units.MiB, diskSize: 8 * units.MiB, duration: 300 * time.Millisecond,
	})
	require.NoError(t, err)
	require.Less(t, time.Since(start), 5*time.Second, "stops after --duration")
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, left, "the burn file is removed")
}

func TestChaosBadOptions(t *testing.T) {
	for name, o := range map[string]*chaosOptions{
		"no duration":  {duration: 0},
		"no disk rate": {duration: time.Second, diskDir: t.TempDir(), diskSize: units.MiB},
		"tiny burn":    {duration: time.Second, diskDir: t.TempDir(), diskRate: units.MiB, diskSize: units.KiB},
		"missing dir":  {duration: time.Second, diskDir: "/nonexistent/dir", diskRate: units.MiB, diskSize: units.MiB},
	} {
		t.Run(name, func(t *testing.T) {
			require.Error(t, chaos(context.Background(), o))
		})
	}
}
