package dashboards

import (
	"testing"

	"go.uber.org/goleak"
)

// The exposition the name check gathers runs the exporter's jobs; they
// must be gone when the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
