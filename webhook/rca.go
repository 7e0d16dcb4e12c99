package webhook

import (
	"context"

	"github.com/anteater-dev/anteater/internal/event"
)

// CauseInferer finds the root causes of an incident. The rca package's
// service implements it; a nil CauseInferer means no cause events.
type CauseInferer interface {
	Infer(ctx context.Context, inc event.Incident) (*event.Cause, error)
}
