// Package rcaeval evaluates the rca engine on fault-injection benchmarks
// in RCAEval's layout (the RCD Sock Shop cases and the like): it loads the
// cases, ranks the services of each with the same engine the service
// runs, and reports AC@k and Avg@5.
package rcaeval

import (
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Case is one fault injection: the true root-cause service, the fault and
// the metrics recorded before (normal) and after (anomalous) the injection.
type Case struct {
	// ID is the case directory relative to the dataset, e.g. carts-cpu/1.
	ID string
	// RootCause is the service the fault was injected into.
	RootCause string
	// Fault is the fault type, e.g. cpu or mem.
	Fault string
	// InjectTime is when the fault was injected (the first anomalous
	// sample).
	InjectTime time.Time
	// Columns are the metric columns, <service>_<metric>.
	Columns []string
	// Times are the sample times of normal then anomalous data, Unix ms.
	Times []int64
	// Values holds one slice per column, aligned with Times.
	Values [][]float64
}

// Labels reads labels.csv: one row per case with at least the columns
// case_id, root_cause_service, fault_type and inject_time.
func Labels(dir string) ([]Case, error) {
	name := filepath.Join(dir, "labels.csv")
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read labels: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", name, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	for _, need := range []string{"case_id", "root_cause_service", "fault_type", "inject_time"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("%s: no %q column in header %v", name, need, header)
		}
	}
	var cases []Case
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		ts, err := strconv.ParseFloat(rec[col["inject_time"]], 64)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: inject_time: %w", name, line, err)
		}
		c := Case{
			ID:         rec[col["case_id"]],
			RootCause:  rec[col["root_cause_service"]],
			Fault:      rec[col["fault_type"]],
			InjectTime: time.UnixMilli(int64(math.Round(ts * 1000))),
		}
		if c.ID == "" || c.RootCause == "" {
			return nil, fmt.Errorf("%s:%d: empty case_id or root_cause_service", name, line)
		}
		cases = append(cases, c)
	}
	if len(cases) == 0 {
		return nil, fmt.Errorf("%s: no cases", name)
	}
	return cases, nil
}

// Load reads the normal and anomalous recordings of a case into c.
func Load(dir string, c *Case) error {
	base := filepath.Join(dir, filepath.FromSlash(c.ID))
	normal, err := readFrame(filepath.Join(base, "normal.csv.gz"))
	if err != nil {
		return err
	}
	anomalous, err := readFrame(filepath.Join(base, "anomalous.csv.gz"))
	if err != nil {
		return err
	}
	if !slices.Equal(normal.columns, anomalous.columns) {
		return fmt.Errorf("case %s: normal and anomalous columns differ", c.ID)
	}
	if len(normal.times) > 0 && len(anomalous.times) > 0 && normal.times[len(normal.times)-1] >= anomalous.times[0] {
		return fmt.Errorf("case %s: normal data does not end before anomalous data starts", c.ID)
	}
	c.Columns = normal.columns
	c.Times = append(normal.times, anomalous.times...)
	c.Values = make([][]float64, len(c.Columns))
	for i := range c.Columns {
		c.Values[i] = append(normal.values[i], anomalous.values[i]...)
	}
	return nil
}

type frame struct {
	columns []string
	times   []int64
	values  [][]float64
}

// readFrame reads a gzipped CSV with a time column (Unix seconds) and
// numeric columns; empty or non-numeric cells become NaN.
func readFrame(name string) (*frame, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rd io.Reader = f
	if strings.HasSuffix(name, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		defer gz.Close()
		rd = gz
	}
	r := csv.NewReader(rd)
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", name, err)
	}
	timeCol := -1
	fr := &frame{}
	var idx []int
	for i, h := range header {
		h = strings.TrimSpace(h)
		if h == "time" || h == "timestamp" {
			timeCol = i
			continue
		}
		if h == "" {
			continue // pandas' index column
		}
		fr.columns = append(fr.columns, h)
		idx = append(idx, i)
	}
	if timeCol < 0 {
		return nil, fmt.Errorf("%s: no time column", name)
	}
	fr.values = make([][]float64, len(idx))
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		ts, err := strconv.ParseFloat(rec[timeCol], 64)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: time: %w", name, line, err)
		}
		ms := int64(math.Round(ts * 1000))
		if n := len(fr.times); n > 0 && ms <= fr.times[n-1] {
			return nil, fmt.Errorf("%s:%d: time %v not after the previous row", name, line, rec[timeCol])
		}
		fr.times = append(fr.times, ms)
		for j, i := range idx {
			v, err := strconv.ParseFloat(strings.TrimSpace(rec[i]), 64)
			if err != nil {
				v = math.NaN()
			}
			fr.values[j] = append(fr.values[j], v)
		}
	}
	return fr, nil
}

// Services maps each column <service>_<metric> to its service. Both
// service names and metric names may contain '_' (carts-db_cpu,
// carts_lat_50), so the split is learnt from the columns themselves: a
// good split yields a service that occurs with several metrics and a
// metric that occurs with several services. For each column, the split
// with the best (smaller support, product of supports) wins; ties go to
// the shorter metric. A column without '_' is its own service.
func Services(columns []string) map[string]string {
	prefixCols := map[string]int{}
	suffixCols := map[string]int{}
	for _, c := range columns {
		for _, i := range underscores(c) {
			prefixCols[c[:i]]++
			suffixCols[c[i+1:]]++
		}
	}
	out := make(map[string]string, len(columns))
	for _, c := range columns {
		best, bestMin, bestProd := c, -1, -1
		// From the last '_' leftwards, so ties keep the shorter metric.
		us := underscores(c)
		for k := len(us) - 1; k >= 0; k-- {
			i := us[k]
			if i == 0 || i == len(c)-1 {
				continue
			}
			ps, ms := prefixCols[c[:i]], suffixCols[c[i+1:]]
			lo, prod := min(ps, ms), ps*ms
			if lo > bestMin || (lo == bestMin && prod > bestProd) {
				best, bestMin, bestProd = c[:i], lo, prod
			}
		}
		out[c] = best
	}
	return out
}

func underscores(s string) []int {
	var out []int
	for i := range len(s) {
		if s[i] == '_' {
			out = append(out, i)
		}
	}
	return out
}
