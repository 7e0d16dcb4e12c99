package webhook

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"
)

// SupportedVersion is the webhook payload version decoded here.
const SupportedVersion = "4"

// ErrBadPayload wraps every decoding and validation failure (answered 400).
var ErrBadPayload = errors.New("bad notification")

// Message is Alertmanager's webhook payload (version 4): the template data
// plus version, groupKey and truncatedAlerts.
type Message struct {
	*template.Data

	Version         string `json:"version"`
	GroupKey        string `json:"groupKey"`
	TruncatedAlerts uint64 `json:"truncatedAlerts"`
}

// Decode parses and validates one notification. Alerts without a
// fingerprint get Alertmanager's (the label set's hash).
func Decode(body []byte) (*Message, error) {
	m := &Message{Data: &template.Data{}}
	if err := json.Unmarshal(body, m); err != nil {
		return nil, fmt.Errorf("%w: invalid JSON: %w", ErrBadPayload, err)
	}
	switch {
	case m.Version == "":
		return nil, fmt.Errorf("%w: missing version", ErrBadPayload)
	case m.Version != SupportedVersion:
		return nil, fmt.Errorf("%w: unsupported version %q (want %q)", ErrBadPayload, m.Version, SupportedVersion)
	case m.GroupKey == "":
		return nil, fmt.Errorf("%w: missing groupKey", ErrBadPayload)
	case m.Receiver == "":
		return nil, fmt.Errorf("%w: missing receiver", ErrBadPayload)
	case m.Status != "firing" && m.Status != "resolved":
		return nil, fmt.Errorf("%w: status %q is neither firing nor resolved", ErrBadPayload, m.Status)
	case m.Alerts == nil:
		return nil, fmt.Errorf("%w: missing alerts", ErrBadPayload)
	}
	for i := range m.Alerts {
		a := &m.Alerts[i]
		switch {
		case a.Status != "firing" && a.Status != "resolved":
			return nil, fmt.Errorf("%w: alert %d: status %q is neither firing nor resolved", ErrBadPayload, i, a.Status)
		case len(a.Labels) == 0:
			return nil, fmt.Errorf("%w: alert %d: missing labels", ErrBadPayload, i)
		case a.StartsAt.IsZero():
			return nil, fmt.Errorf("%w: alert %d: missing startsAt", ErrBadPayload, i)
		}
		if a.Fingerprint == "" {
			ls := make(model.LabelSet, len(a.Labels))
			for k, v := range a.Labels {
				ls[model.LabelName(k)] = model.LabelValue(v)
			}
			a.Fingerprint = ls.Fingerprint().String()
		}
	}
	return m, nil
}
