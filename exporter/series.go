package exporter

import (
	"slices"
	"strings"

	"github.com/prometheus/common/model"

	"github.com/anteater-dev/anteater/scorer"
)

// Names of the labels anteater adds to every score series.
const (
	jobLabel    = "anteater_job"
	metricLabel = "metric"
)

// maxWindowPoints bounds the ratio window of one series, so memory stays
// bounded whatever window and step are configured.
const maxWindowPoints = 1024

// label is one label pair. Strings are shared with the decoded query
// result, so keeping them costs no copy.
type label struct{ name, value string }

// series is one scored series. The identity fields are set at creation and
// never change, so scrapes may read them while the job's workers update the
// model fields.
type series struct {
	// labels are the exposition labels, sorted by name: the series'
	// labels without __name__, plus anteater_job and metric (a scored
	// label of those names is kept as exported_<name>).
	labels []label
	// metric is __name__ or, for expressions, the job name.
	metric string
	// entity identifies the series' entity within its job: the values of
	// the job's entity labels joined by \xff.
	entity string
	// fast is model.Metric.FastFingerprint of the source labels.
	fast model.Fingerprint

	// Owned by the job goroutine (and one worker during scoring).
	model    scorer.Model
	lastTs   int64
	last     scorer.Result
	win      window
	lastSeen int64 // wall-clock ms of the last successful cycle that returned the series
	hasLast  bool
	fresh    bool // created without history: needs a backfill
	got      bool // got a new sample in the current cycle
}

// newSeries builds the identity of a series from its source labels.
// names interns label and metric names (nil: none): every series of a
// job repeats the same few, and each decoded response holds its own
// copies of them.
func newSeries(m model.Metric, job string, entityLabels []string, names *interner) *series {
	s := &series{fast: m.FastFingerprint()}
	s.metric = names.get(string(m[model.MetricNameLabel]))
	if s.metric == "" {
		s.metric = job
	}
	s.labels = make([]label, 0, len(m)+1)
	for n, v := range m {
		name := string(n)
		switch name {
		case model.MetricNameLabel:
			continue
		case jobLabel, metricLabel:
			name = "exported_" + name
		}
		s.labels = append(s.labels, label{names.get(name), string(v)})
	}
	s.labels = append(s.labels, label{jobLabel, job}, label{metricLabel, s.metric})
	slices.SortFunc(s.labels, func(a, b label) int { return strings.Compare(a.name, b.name) })
	if len(entityLabels) == 1 {
		// The entity is the one label's value: share its string.
		s.entity = string(m[model.LabelName(entityLabels[0])])
		return s
	}
	var b strings.Builder
	for i, l := range entityLabels {
		if i > 0 {
			b.WriteByte(0xff)
		}
		b.WriteString(string(m[model.LabelName(l)]))
	}
	s.entity = b.String()
	return s
}

// interner hands out one copy of each string it has seen, up to a
// bound: label and metric names are few per job, but nothing a scraped
// target sends may grow memory without limit.
type interner struct{ m map[string]string }

const maxInterned = 4096

func (in *interner) get(s string) string {
	if in == nil {
		return s
	}
	if v, ok := in.m[s]; ok {
		return v
	}
	if in.m == nil {
		in.m = make(map[string]string)
	}
	if len(in.m) < maxInterned {
		s = strings.Clone(s)
		in.m[s] = s
	}
	return s
}

// matches reports whether m are the series' source labels; it guards the
// fingerprint map against collisions without allocating.
func (s *series) matches(m model.Metric, job string) bool {
	n := len(s.labels) - 2
	if _, ok := m[model.MetricNameLabel]; ok {
		n++
	}
	if n != len(m) {
		return false
	}
	for _, l := range s.labels {
		name := l.name
		switch name {
		case jobLabel, metricLabel:
			continue
		case "exported_" + jobLabel, "exported_" + metricLabel:
			name = strings.TrimPrefix(name, "exported_")
		}
		if v, ok := m[model.LabelName(name)]; !ok || string(v) != l.value {
			return false
		}
	}
	return string(m[model.MetricNameLabel]) == s.metric || (s.metric == job && m[model.MetricNameLabel] == "")
}

// get returns a label's value.
func (s *series) get(name string) string {
	i, ok := slices.BinarySearchFunc(s.labels, name, func(l label, n string) int { return strings.Compare(l.name, n) })
	if !ok {
		return ""
	}
	return s.labels[i].value
}

// key is the series' identity in the state store.
func (s *series) key() []byte {
	n := 0
	for _, l := range s.labels {
		n += len(l.name) + len(l.value) + 2
	}
	b := make([]byte, 0, n)
	for _, l := range s.labels {
		b = append(b, l.name...)
		b = append(b, 0xff)
		b = append(b, l.value...)
		b = append(b, 0xff)
	}
	return b
}

func compareLabels(a, b []label) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := strings.Compare(a[i].name, b[i].name); c != 0 {
			return c
		}
		if c := strings.Compare(a[i].value, b[i].value); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

// feed scores the pending samples in order, skipping those not newer than
// the last one scored. It does not allocate.
func (s *series) feed(samples []model.SamplePair, windowMs int64) {
	for _, sp := range samples {
		ts := int64(sp.Timestamp)
		if ts <= s.lastTs {
			continue
		}
		r := s.model.Observe(ts, float64(sp.Value))
		s.lastTs = ts
		s.got = true
		if r.Skipped {
			continue
		}
		s.last = r
		s.hasLast = true
		s.win.push(ts, r.Anomalous, windowMs)
	}
}

// window counts observed and anomalous points over the last windowMs of
// sample time. Entries are ts<<1 | anomalous.
type window struct {
	buf []int64
	// int32: a window holds at most maxWindowPoints, and narrow counts
	// keep series in a smaller allocation size class.
	head, n   int32
	anomalous int32
}

func newWindow(windowMs, stepMs int64) window {
	c := int(min(windowMs/max(stepMs, 1)+1, maxWindowPoints))
	return window{buf: make([]int64, max(c, 1))}
}

func (w *window) push(ts int64, anomalous bool, windowMs int64) {
	for w.n > 0 {
		oldest := w.buf[w.head]
		if oldest>>1 > ts-windowMs && int(w.n) < len(w.buf) {
			break
		}
		w.anomalous -= int32(oldest & 1)
		w.head = (w.head + 1) % int32(len(w.buf))
		w.n--
	}
	e := ts << 1
	if anomalous {
		e |= 1
		w.anomalous++
	}
	w.buf[(w.head+w.n)%int32(len(w.buf))] = e
	w.n++
}
