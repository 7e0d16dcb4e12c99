package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/anteater-dev/anteater/internal/event"
	"github.com/anteater-dev/anteater/internal/kafka"
	"github.com/anteater-dev/anteater/rca"
)

// The alert contract (rules → webhook).
const (
	labelAnteater   = "anteater"
	anteaterAnomaly = "anomaly"
	labelJob        = "anteater_job"
	labelMetric     = "metric"
	labelMachineID  = "machine_id"

	recommendTop = 5
	workBatch    = 256
)

// Labels the rules add to an alert that are not the scored series' identity.
var alertOnlyLabels = map[string]bool{"alertname": true, labelAnteater: true, labelJob: true, labelMetric: true, "severity": true}

// workLoop hands queued alerts to the outbox: a batch leaves the queue
// only after its events are durably in the outbox, so a crash in between
// replays the batch (the outbox drops the replay by its dedup keys).
func (w *Webhook) workLoop(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for {
		batch, err := w.st.peek(workBatch)
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-w.wake:
			}
			continue
		}
		msgs := make([]kafka.Message, 0, 2*len(batch))
		seqs := make([]uint64, 0, len(batch))
		for _, q := range batch {
			seqs = append(seqs, q.seq)
			if q.DedupKey == "" {
				w.logger.Error("dropping unreadable queue record", "seq", q.seq)
				continue
			}
			m, err := w.events(ctx, q)
			if err != nil {
				// Building events only fails on values JSON cannot hold;
				// retrying would not help, so the alert is dropped.
				w.logger.Error("dropping alert whose event cannot be built", "fingerprint", q.Alert.Fingerprint, "err", err)
				continue
			}
			msgs = append(msgs, m...)
		}
		// Retry the hand-over with the events as built: rebuilding them
		// would run the root-cause inference again and read scores that
		// have moved on since the alert came.
		for {
			err := w.pub.Enqueue(ctx, msgs...)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			w.logger.Warn("handing events to the outbox failed; retrying", "err", err, "retry_in", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			backoff = min(2*backoff, 10*time.Second)
		}
		backoff = 100 * time.Millisecond
		if err := w.st.remove(seqs); err != nil {
			return err
		}
	}
}

// events builds the anomaly event of one alert and, for a firing alert
// with a CauseInferer, its cause event.
func (w *Webhook) events(ctx context.Context, q queued) ([]kafka.Message, error) {
	an, inc := w.buildAnomaly(q)
	raw, err := json.Marshal(an)
	if err != nil {
		return nil, fmt.Errorf("encode anomaly event: %w", err)
	}
	ts := time.UnixMilli(an.Timestamp)
	msgs := []kafka.Message{{
		Kind: event.KindAnomaly, Key: an.Attributes.EntityID, ID: an.Attributes.EventID,
		Time: ts, Value: raw, DedupKey: q.DedupKey,
	}}
	if w.rca == nil || q.Alert.Status != "firing" {
		return msgs, nil
	}
	if c := w.inferCause(ctx, inc, q.DedupKey); c != nil {
		msgs = append(msgs, *c)
	}
	return msgs, nil
}

func (w *Webhook) inferCause(ctx context.Context, inc event.Incident, dedupKey string) *kafka.Message {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.RCATimeout)
	defer cancel()
	start := time.Now()
	cause, err := w.rca.Infer(ctx, inc)
	w.rcaTime.Observe(time.Since(start).Seconds())
	if errors.Is(err, rca.ErrNoCandidates) {
		// Nothing to rank (no candidate series near the anomaly) is an
		// answer, not a failure: asking again would find nothing either.
		w.logger.Info("no root-cause candidates; anomaly event sent without a cause event", "event_id", inc.Anomaly.Attributes.EventID, "err", err)
		return nil
	}
	if err != nil {
		w.rcaErrors.Inc()
		w.logger.Warn("root-cause inference failed; anomaly event sent without causes", "event_id", inc.Anomaly.Attributes.EventID, "err", err)
		return nil
	}
	if cause == nil {
		return nil
	}
	id := inc.Anomaly.Attributes.EventID
	if cause.EventID == "" {
		cause.EventID = id
	}
	if cause.Attributes.EventID == "" {
		cause.Attributes.EventID = cause.EventID
	}
	if cause.Attributes.EventSource == "" {
		cause.Attributes.EventSource = event.SourceRootCause
	}
	if cause.Timestamp == 0 {
		cause.Timestamp = w.now().UnixMilli()
	}
	raw, err := json.Marshal(cause)
	if err == nil {
		err = event.Validate(event.KindCause, raw)
	}
	if err != nil {
		w.rcaErrors.Inc()
		w.logger.Error("dropping invalid cause event", "event_id", id, "err", err)
		return nil
	}
	return &kafka.Message{
		Kind: event.KindCause, Key: cause.EventID, ID: cause.EventID,
		Time: time.UnixMilli(cause.Timestamp), Value: raw,
		DedupKey: dedupKey,
	}
}

// buildAnomaly makes gala-anteater's anomaly event from an alert and the
// exporter's scores, falling back to the alert's annotations.
func (w *Webhook) buildAnomaly(q queued) (*event.Anomaly, event.Incident) {
	a := q.Alert
	job, metric := a.Labels[labelJob], a.Labels[labelMetric]
	if metric == "" {
		metric = job
	}
	identity := map[string]string{}
	for k, v := range a.Labels {
		if !alertOnlyLabels[k] {
			identity[k] = v
		}
	}
	var ss SeriesScore
	found := false
	if w.scores != nil {
		ss, found = w.scores.Lookup(job, metric, identity)
	}
	labels, entity := identity, map[string]string(nil)
	if found {
		if len(ss.Labels) > 0 {
			labels = ss.Labels
		}
		entity = ss.EntityLabels
	}
	if len(entity) == 0 {
		if m, ok := labels[labelMachineID]; ok {
			entity = map[string]string{labelMachineID: m}
		}
	}
	entityID := ss.EntityID
	if entityID == "" {
		entityID = fallbackEntityID(job, labels)
	}
	eventType := firstNonEmpty(ss.EventType, a.Annotations["event_type"], "app")
	desc := firstNonEmpty(ss.Description, metric)

	res := event.AnomalyResource{
		MetricLabel:      copyLabels(labels),
		RecommendMetrics: map[string]event.RecommendedMetric{},
		Metrics:          metric,
	}
	if found {
		res.AnomalyScore, res.AnomalyRatio = ss.Score, ss.Ratio
		res.AnomalyCount, res.TotalCount = ss.Anomalous, ss.Observed
		res.Duration = int(ss.Window / time.Second)
	} else {
		res.AnomalyScore = parseFloat(a.Annotations["score"])
		res.AnomalyRatio = parseFloat(a.Annotations["ratio"])
	}
	res.AnomalyScore = math.Max(finite(res.AnomalyScore), 0)
	res.AnomalyRatio = math.Min(math.Max(finite(res.AnomalyRatio), 0), 1)
	res.AnomalyCount, res.TotalCount, res.Duration = max(res.AnomalyCount, 0), max(res.TotalCount, 0), max(res.Duration, 0)
	if w.scores != nil && len(entity) > 0 {
		w.recommend(res.RecommendMetrics, entity, job, metric, labels)
	}

	at, sevText, sevNum := a.StartsAt, "WARN", 14
	body := fmt.Sprintf("%s, WARN, %s may be impacting %s issues.", at.UTC().Format(time.ANSIC), strings.ToUpper(eventType), strings.TrimSuffix(desc, "."))
	if a.Status == "resolved" {
		at, sevText, sevNum = a.EndsAt, "INFO", 9
		if at.IsZero() {
			at = a.StartsAt
		}
		body = fmt.Sprintf("%s, INFO, %s %s issues resolved.", at.UTC().Format(time.ANSIC), strings.ToUpper(eventType), strings.TrimSuffix(desc, "."))
	}
	ts := at.UnixMilli()
	an := &event.Anomaly{
		Timestamp: ts,
		Attributes: event.AnomalyAttributes{
			EntityID: entityID, EventID: strconv.FormatInt(ts, 10) + "_" + entityID, EventType: eventType,
		},
		Resource:       res,
		SeverityText:   sevText,
		SeverityNumber: sevNum,
		Body:           body,
	}
	inc := event.Incident{
		Anomaly: an, Job: job, Metric: metric, Labels: copyLabels(labels), EntityLabels: copyLabels(entity),
		Score: res.AnomalyScore, Time: a.StartsAt,
	}
	return an, inc
}

// recommend adds the entity's other most anomalous metrics, one series
// per metric name, highest score first.
func (w *Webhook) recommend(out map[string]event.RecommendedMetric, entity map[string]string, job, metric string, labels map[string]string) {
	all := w.scores.EntityScores(entity)
	cands := make([]SeriesScore, 0, len(all))
	for _, s := range all {
		if math.IsNaN(s.Score) || math.IsInf(s.Score, 0) {
			continue
		}
		if s.Job == job && s.Metric == metric && sameLabels(s.Labels, labels) {
			continue // the alert's own series
		}
		cands = append(cands, s)
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].Score > cands[j].Score })
	for _, s := range cands {
		if len(out) == recommendTop {
			return
		}
		if _, dup := out[s.Metric]; dup || s.Metric == "" {
			continue
		}
		l := copyLabels(s.Labels)
		l["__name__"] = s.Metric
		out[s.Metric] = event.RecommendedMetric{Label: l, Score: s.Score}
	}
}

// fallbackEntityID follows gala-anteater's "<machine_id>_<entity>_<...>"
// when the exporter does not know the series: machine id, job, then the
// other identity label values in label-name order.
func fallbackEntityID(job string, labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for k := range labels {
		if k != labelMachineID {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	parts := []string{labels[labelMachineID], job}
	for _, k := range names {
		parts = append(parts, labels[k])
	}
	return strings.Join(parts, "_")
}

func sameLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

func copyLabels(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

func parseFloat(s string) float64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0
	}
	return f
}

func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
