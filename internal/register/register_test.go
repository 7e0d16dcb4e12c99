package register

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

func TestAll(t *testing.T) {
	counter := func(name string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: name})
	}
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(counter("taken")))

	_, err := All(reg, counter("a"), counter("taken"))
	require.ErrorContains(t, err, "registering metrics")
	require.NoError(t, reg.Register(counter("a")), "a conflict leaves nothing registered")

	unregister, err := All(reg, counter("b"), counter("c"))
	require.NoError(t, err)
	unregister()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	require.Len(t, mfs, 2, "only taken and a remain")

	unregister, err = All(nil, counter("x"))
	require.NoError(t, err)
	unregister()
}
