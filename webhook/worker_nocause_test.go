package webhook_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/anteater-dev/anteater/internal/event"
	"github.com/anteater-dev/anteater/rca"
	"github.com/anteater-dev/anteater/webhook"
)

// An incident without candidate series gets its anomaly event and no
// cause event, and is not counted as a failed inference.
func TestNoCandidatesIsNotAnRCAError(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		wantErrs  float64
		wantCalls int
	}{
		{"no candidates", fmt.Errorf("rca: %w for m{}", rca.ErrNoCandidates), 0, 1},
		{"other failure", errors.New("prometheus down"), 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub, inf := &fakePublisher{}, &fakeRCA{err: tc.err}
			s := startServer(t, webhook.Config{}, fakeScores{}, inf, pub)
			code, _ := post(t, s.url, notification(anteaterAlert("m1", t0)))
			require.Equal(t, 202, code)
			require.Eventually(t, func() bool { return s.w.QueueLength() == 0 && len(pub.got()) == 1 }, 30*time.Second, 5*time.Millisecond)
			require.Equal(t, event.KindAnomaly, pub.got()[0].Kind)
			require.InDelta(t, tc.wantErrs, testutil.ToFloat64(metric(s.reg, "anteater_rca_errors_total")), 0)
			inf.mu.Lock()
			defer inf.mu.Unlock()
			require.Len(t, inf.calls, tc.wantCalls, "asked once, never retried")
		})
	}
}
