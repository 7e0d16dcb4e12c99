package rcaeval

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/anteater-dev/anteater/rca"
)

// TopK is the deepest AC@k reported.
const TopK = 5

// CaseResult is the outcome of one case.
type CaseResult struct {
	ID        string `json:"case"`
	Fault     string `json:"fault"`
	RootCause string `json:"root_cause"`
	// Rank of the root cause among the services, 1-based; 0 when the
	// engine did not rank it at all.
	Rank int `json:"rank"`
	// Top are the best services, at most TopK.
	Top []string `json:"top"`
	// Seconds is the time the engine took to rank the case.
	Seconds float64 `json:"seconds"`
	// Series is the number of candidate series ranked.
	Series int `json:"series"`
}

// Summary holds AC@1..AC@5 and their mean, Avg@5, over a group of cases.
type Summary struct {
	Group string          `json:"group"`
	Cases int             `json:"cases"`
	AC    [TopK]float64   `json:"ac"`
	Avg5  float64         `json:"avg5"`
	Time  SummaryDuration `json:"seconds"`
}

// SummaryDuration is the mean and worst engine time per case.
type SummaryDuration struct {
	Mean float64 `json:"mean"`
	Max  float64 `json:"max"`
}

// Report is the whole evaluation.
type Report struct {
	Methods []string     `json:"methods"`
	Cases   []CaseResult `json:"cases"`
	Faults  []Summary    `json:"faults"`
	Overall Summary      `json:"overall"`
}

// Evaluate loads and ranks every case of the dataset in dir, writing
// progress to progress (may be nil).
func Evaluate(ctx context.Context, dir string, engine *rca.Engine, methods []string, progress io.Writer) (*Report, error) {
	if progress == nil {
		progress = io.Discard
	}
	cases, err := Labels(dir)
	if err != nil {
		return nil, err
	}
	rep := &Report{Methods: methods}
	for i := range cases {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c := &cases[i]
		if err := Load(dir, c); err != nil {
			return nil, fmt.Errorf("case %s: %w", c.ID, err)
		}
		res, err := RankCase(ctx, engine, c)
		// The data is no longer needed: keep memory flat on big datasets.
		c.Times, c.Values = nil, nil
		if err != nil {
			return nil, fmt.Errorf("case %s: %w", c.ID, err)
		}
		rep.Cases = append(rep.Cases, res)
		fmt.Fprintf(progress, "[%d/%d] %s: root cause %s ranked %d (top %s) in %.3fs\n",
			i+1, len(cases), c.ID, c.RootCause, res.Rank, strings.Join(res.Top, ","), res.Seconds)
	}
	rep.summarise()
	return rep, nil
}

// RankCase ranks the services of one loaded case.
func RankCase(ctx context.Context, engine *rca.Engine, c *Case) (CaseResult, error) {
	services := Services(c.Columns)
	p := rca.Problem{Time: c.InjectTime, Candidates: make([]rca.Series, len(c.Columns))}
	for i, col := range c.Columns {
		svc := services[col]
		metric := strings.TrimPrefix(strings.TrimPrefix(col, svc), "_")
		if metric == "" {
			metric = col
		}
		p.Candidates[i] = rca.Series{
			Metric: metric,
			Labels: map[string]string{"service": svc},
			Entity: svc,
			Times:  c.Times,
			Values: c.Values[i],
		}
	}
	start := time.Now()
	res, err := engine.Rank(ctx, p)
	elapsed := time.Since(start)
	if err != nil {
		return CaseResult{}, err
	}
	out := CaseResult{ID: c.ID, Fault: c.Fault, RootCause: c.RootCause, Seconds: elapsed.Seconds(), Series: len(p.Candidates)}
	for i, e := range res.Entities {
		if i < TopK {
			out.Top = append(out.Top, e.Entity)
		}
		if e.Entity == c.RootCause && out.Rank == 0 {
			out.Rank = i + 1
		}
	}
	return out, nil
}

func (r *Report) summarise() {
	byFault := map[string][]CaseResult{}
	for _, c := range r.Cases {
		byFault[c.Fault] = append(byFault[c.Fault], c)
	}
	faults := make([]string, 0, len(byFault))
	for f := range byFault {
		faults = append(faults, f)
	}
	sort.Strings(faults)
	for _, f := range faults {
		r.Faults = append(r.Faults, summarise(f, byFault[f]))
	}
	r.Overall = summarise("overall", r.Cases)
}

func summarise(group string, cases []CaseResult) Summary {
	s := Summary{Group: group, Cases: len(cases)}
	if len(cases) == 0 {
		return s
	}
	for _, c := range cases {
		for k := range TopK {
			if c.Rank > 0 && c.Rank <= k+1 {
				s.AC[k]++
			}
		}
		s.Time.Mean += c.Seconds
		s.Time.Max = max(s.Time.Max, c.Seconds)
	}
	for k := range TopK {
		s.AC[k] /= float64(len(cases))
		s.Avg5 += s.AC[k] / TopK
	}
	s.Time.Mean /= float64(len(cases))
	return s
}

// WriteText prints the report as tables: one line per case, then AC@k
// and Avg@5 per fault type and overall.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "methods: %s\n\n", strings.Join(r.Methods, ","))
	fmt.Fprintf(&b, "%-24s %-8s %-14s %5s %9s  %s\n", "case", "fault", "root cause", "rank", "seconds", "top-5")
	for _, c := range r.Cases {
		fmt.Fprintf(&b, "%-24s %-8s %-14s %5d %9.4f  %s\n", c.ID, c.Fault, c.RootCause, c.Rank, c.Seconds, strings.Join(c.Top, ","))
	}
	fmt.Fprintf(&b, "\n%-10s %5s %6s %6s %6s %6s %6s %7s %10s %10s\n", "fault", "cases", "AC@1", "AC@2", "AC@3", "AC@4", "AC@5", "Avg@5", "mean s", "max s")
	for _, s := range append(append([]Summary(nil), r.Faults...), r.Overall) {
		fmt.Fprintf(&b, "%-10s %5d %6.3f %6.3f %6.3f %6.3f %6.3f %7.3f %10.4f %10.4f\n",
			s.Group, s.Cases, s.AC[0], s.AC[1], s.AC[2], s.AC[3], s.AC[4], s.Avg5, s.Time.Mean, s.Time.Max)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
