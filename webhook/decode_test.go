package webhook_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anteater-dev/anteater/webhook"
)

func TestDecodeFillsFingerprint(t *testing.T) {
	m, err := webhook.Decode(notification(anteaterAlert("m1", t0)))
	require.NoError(t, err)
	require.Len(t, m.Alerts, 1)
	require.Len(t, m.Alerts[0].Fingerprint, 16, "Alertmanager's fingerprint format")
	again, err := webhook.Decode(notification(anteaterAlert("m1", t0)))
	require.NoError(t, err)
	require.Equal(t, m.Alerts[0].Fingerprint, again.Alerts[0].Fingerprint)
}

func FuzzDecode(f *testing.F) {
	f.Add(notification(anteaterAlert("m1", t0)))
	f.Add(notification())
	f.Add([]byte(`{"version":"4","groupKey":"g","receiver":"r","status":"firing","alerts":[{"status":"firing","labels":{"a":"b"},"startsAt":"2024-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"version":"3"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"alerts":[null]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := webhook.Decode(body)
		if err != nil {
			require.True(t, errors.Is(err, webhook.ErrBadPayload), "every failure is a bad payload: %v", err)
			require.Nil(t, m)
			return
		}
		require.Equal(t, webhook.SupportedVersion, m.Version)
		require.NotEmpty(t, m.GroupKey)
		require.NotNil(t, m.Alerts)
		for _, a := range m.Alerts {
			require.Contains(t, []string{"firing", "resolved"}, a.Status)
			require.NotEmpty(t, a.Labels)
			require.NotEmpty(t, a.Fingerprint)
			require.False(t, a.StartsAt.IsZero())
		}
	})
}
