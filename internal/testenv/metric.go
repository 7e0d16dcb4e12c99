package testenv

import "github.com/prometheus/client_golang/prometheus"

// Metric re-exposes one series of a registry, selected by name and label
// name/value pairs given in label-name order, so testutil.ToFloat64 can
// read it. A missing series collects nothing (ToFloat64 then panics, which
// fails the test).
func Metric(reg *prometheus.Registry, name string, labels ...string) prometheus.Collector {
	return seriesCollector{reg: reg, name: name, labels: labels}
}

type seriesCollector struct {
	reg    *prometheus.Registry
	name   string
	labels []string
}

func (c seriesCollector) Describe(chan<- *prometheus.Desc) {}

func (c seriesCollector) Collect(ch chan<- prometheus.Metric) {
	mfs, err := c.reg.Gather()
	if err != nil {
		return
	}
	for _, mf := range mfs {
		if mf.GetName() != c.name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel())*2 != len(c.labels) {
				continue
			}
			// Gathered label pairs are sorted by name, as the pairs given.
			for i, lp := range m.GetLabel() {
				if lp.GetName() != c.labels[2*i] || lp.GetValue() != c.labels[2*i+1] {
					continue next
				}
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(c.name, "", nil, nil), prometheus.UntypedValue, v)
			return
		}
	}
}
