package event

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestManualExamplesValidate(t *testing.T) {
	for _, tc := range []struct {
		file string
		kind Kind
	}{
		{"testdata/manual_anomaly.json", KindAnomaly},
		{"testdata/manual_cause.json", KindCause},
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(tc.file)
			require.NoError(t, err)
			require.NoError(t, Validate(tc.kind, raw))
		})
	}
}

// The Go types must round-trip the manual's examples unchanged, so the
// field names, nesting and types are exactly gala-anteater's.
func TestManualExamplesRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		file string
		kind Kind
		v    any
	}{
		{"testdata/manual_anomaly.json", KindAnomaly, &Anomaly{}},
		{"testdata/manual_cause.json", KindCause, &Cause{}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(tc.file)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(raw, tc.v))
			out, err := json.Marshal(tc.v)
			require.NoError(t, err)
			require.JSONEq(t, string(raw), string(out))
			require.NoError(t, Validate(tc.kind, out))
		})
	}
}

func TestValidateRejects(t *testing.T) {
	good, err := os.ReadFile("testdata/manual_anomaly.json")
	require.NoError(t, err)
	var base map[string]any
	require.NoError(t, json.Unmarshal(good, &base))

	for _, tc := range []struct {
		name   string
		mutate func(m map[string]any)
	}{
		{"missing Timestamp", func(m map[string]any) { delete(m, "Timestamp") }},
		{"string score", func(m map[string]any) { m["Resource"].(map[string]any)["anomaly_score"] = "1.0" }},
		{"ratio above 1", func(m map[string]any) { m["Resource"].(map[string]any)["anomaly_ratio"] = 1.5 }},
		{"label not a string", func(m map[string]any) { m["Resource"].(map[string]any)["metric_label"] = map[string]any{"a": 1} }},
		{"event id without timestamp", func(m map[string]any) { m["Attributes"].(map[string]any)["event_id"] = "abc" }},
		{"extra field", func(m map[string]any) { m["extra"] = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			require.NoError(t, json.Unmarshal(good, &m))
			tc.mutate(m)
			raw, err := json.Marshal(m)
			require.NoError(t, err)
			require.Error(t, Validate(KindAnomaly, raw))
		})
	}
	require.ErrorIs(t, Validate("nope", good), ErrUnknownKind)
	require.Error(t, Validate(KindAnomaly, []byte("{")))
	require.Error(t, Validate(KindCause, good), "an anomaly is not a cause")
}
