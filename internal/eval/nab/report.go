package nab

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// Report is a detector's NAB evaluation.
type Report struct {
	Detector string `json:"detector"`
	// Output names which of the detector's outputs was scored (e.g.
	// "episode" or "score"); empty for a detector with one output.
	Output  string `json:"output,omitempty"`
	Files   int    `json:"files"`
	Rows    int    `json:"rows"`
	Windows int    `json:"windows"`
	// Optimized holds, per profile, the result at the threshold NAB's
	// optimizer would pick: the published metric.
	Optimized []Result `json:"optimized"`
	// Product holds, per profile, the result at anteater's own alert
	// threshold (score 1.0, i.e. 0.5 here): what the service would alert.
	Product []Result `json:"product_threshold"`
}

// Evaluate scores a corpus's detector scores under every NAB profile.
func Evaluate(detector string, c *Corpus, scores [][]float64) (*Report, error) {
	s, err := NewScorer(c, scores)
	if err != nil {
		return nil, err
	}
	r := &Report{Detector: detector, Files: len(c.Files), Rows: c.Rows(), Windows: c.Windows()}
	for _, p := range Profiles() {
		r.Optimized = append(r.Optimized, s.Optimize(p))
		r.Product = append(r.Product, s.ScoreAt(ProductThreshold, p))
	}
	return r, nil
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encoding NAB report: %w", err)
	}
	return nil
}

// WriteTable writes the report for people: the scores per profile at the
// optimized and at the product threshold, then the standard profile's raw
// score split by category at both.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "NAB: detector %s, %d files, %d rows, %d windows\n", r.Detector, r.Files, r.Rows, r.Windows)
	if r.Output != "" {
		fmt.Fprintf(tw, "output scored: %s\n", r.Output)
	}
	header := "profile\tscore\tthreshold\tanteater≥\tTP\tFP\tFN\twindows\traw\t"
	sections := []struct {
		title   string
		results []Result
	}{
		{"NAB-optimized threshold (the published metric)", r.Optimized},
		{"anteater threshold (score 1.0)", r.Product},
	}
	for _, sec := range sections {
		fmt.Fprintf(tw, "\n%s:\n", sec.title)
		fmt.Fprintln(tw, header)
		for _, res := range sec.results {
			fmt.Fprintf(tw, "%s\t%.2f\t%s\t%s\t%d\t%d\t%d\t%d/%d\t%.3f\t\n", res.Profile, res.Score,
				fmtThreshold(res.Threshold), fmtAnteater(res.Threshold), res.TP, res.FP, res.FN,
				res.Detected, res.Windows, res.Raw)
		}
	}
	for _, sec := range []struct {
		title   string
		results []Result
	}{
		{"optimized", r.Optimized},
		{"anteater", r.Product},
	} {
		if len(sec.results) == 0 {
			continue
		}
		std := sec.results[0]
		fmt.Fprintf(tw, "\n%s profile by category, %s threshold:\n", std.Profile, sec.title)
		fmt.Fprintln(tw, "category\tfiles\twindows\tdetected\tTP score\tFN score\tFP score\tFP rows\traw\tdelay\t")
		for _, c := range std.Categories {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.3f\t%.3f\t%.3f\t%d\t%.3f\t%.2f\t\n", c.Category, c.Files, c.Windows,
				c.Detected, c.TPScore, c.FNScore, c.FPScore, c.FPRows, c.Raw, c.MeanDelay)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing NAB report: %w", err)
	}
	return nil
}

func fmtThreshold(t float64) string {
	if t > 1 {
		return "none"
	}
	return fmt.Sprintf("%.4f", t)
}

// fmtAnteater shows the threshold in anteater's score units.
func fmtAnteater(t float64) string {
	if t > 1 {
		return "none"
	}
	return fmt.Sprintf("%.3g", UnmapScore(t))
}
