// Package register registers a component's collectors as one unit, so
// a component that fails to start leaves no metrics behind.
package register

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// All registers cs with reg (nothing when reg is nil). On a conflict it
// unregisters what it registered and returns the error; otherwise
// unregister takes them all out again, for a component that fails later
// in its construction.
func All(reg prometheus.Registerer, cs ...prometheus.Collector) (unregister func(), err error) {
	if reg == nil {
		return func() {}, nil
	}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	return func() {
		for _, c := range cs {
			reg.Unregister(c)
		}
	}, nil
}
