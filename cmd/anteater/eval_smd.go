package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/anteater-dev/anteater/internal/eval/smd"
	"github.com/anteater-dev/anteater/scorer/multivariate"
)

func init() {
	register(subcommand{
		name: "eval smd",
		help: "Evaluate the multivariate detectors on the Server Machine Dataset (OmniAnomaly layout).",
		setup: func(cmd *kingpin.CmdClause) func(ctx context.Context) int {
			o := &evalSMDOptions{cfg: multivariate.Config{Params: map[string]string{}}}
			cmd.Flag("data", "SMD directory with train/, test/, test_label/, interpretation_label/.").Required().StringVar(&o.data)
			cmd.Flag("model", fmt.Sprintf("Model name, or several joined by + for an ensemble (have %v).", multivariate.Names())).Default(multivariate.DefaultModel).StringVar(&o.cfg.Model)
			cmd.Flag("param", "Model parameter KEY=VALUE (repeatable; <model>.KEY targets one ensemble member).").StringMapVar(&o.cfg.Params)
			cmd.Flag("explain", "Attribution-only models joined by + (they set the contributions, not the score; none: no such model).").Default(multivariate.DefaultExplain).StringVar(&o.cfg.Explain)
			cmd.Flag("combine", "How an ensemble joins its members' calibrated scores: max or mean (empty: default).").StringVar(&o.cfg.Combine)
			cmd.Flag("holdout", "Share of the latest training rows held out for calibration (0: default, negative: none).").Float64Var(&o.cfg.Holdout)
			cmd.Flag("refit", "Refit on all training rows after calibrating on the held-out part (--no-refit: keep the models fitted without it).").Default("true").BoolVar(&o.refit)
			cmd.Flag("fixed-threshold", "Keep the threshold set at calibration instead of following the live scores' tail as SPOT does.").BoolVar(&o.cfg.FixedThreshold)
			cmd.Flag("smoothing", "EWMA weight of the newest score (1: none; 0: default).").Float64Var(&o.cfg.Smoothing)
			cmd.Flag("risk", "POT risk level of the label-free threshold (0: default).").Float64Var(&o.cfg.Calibration.Risk)
			cmd.Flag("init-quantile", "POT initial quantile (0: default).").Float64Var(&o.cfg.Calibration.InitQuantile)
			cmd.Flag("margin", "Multiplier of the POT threshold (0: default).").Float64Var(&o.cfg.Calibration.Margin)
			cmd.Flag("clip", "Clip standardised values to ±clip (0: default, negative: none).").Float64Var(&o.cfg.Clip)
			cmd.Flag("out", "Directory for per-machine score,pred CSV files.").StringVar(&o.out)
			cmd.Flag("json", "Print per-machine and overall results as JSON instead of a table.").BoolVar(&o.json)
			return func(ctx context.Context) int { return evalSMD(ctx, o, os.Stdout, os.Stderr) }
		},
	})
}

type evalSMDOptions struct {
	data, out string
	json      bool
	refit     bool
	cfg       multivariate.Config
}

func evalSMD(ctx context.Context, o *evalSMDOptions, stdout, stderr io.Writer) int {
	o.cfg.NoRefit = !o.refit
	names, skipped, err := smd.Discover(o.data)
	if err != nil {
		fmt.Fprintln(stderr, "anteater:", err)
		return 1
	}
	for n, why := range skipped {
		fmt.Fprintf(stderr, "warning: skipping machine %s: %s\n", n, why)
	}
	if len(names) == 0 {
		fmt.Fprintln(stderr, "anteater: no complete machine under", o.data)
		return 1
	}
	if _, err := multivariate.NewDetector(o.cfg); err != nil {
		fmt.Fprintln(stderr, "anteater:", err)
		return 2
	}
	if o.out != "" {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			fmt.Fprintln(stderr, "anteater:", err)
			return 1
		}
	}
	var results []*smd.Result
	for i, n := range names {
		start := time.Now()
		m, err := smd.Load(o.data, n)
		if err != nil {
			fmt.Fprintln(stderr, "anteater:", err)
			return 1
		}
		r, err := smd.Evaluate(ctx, m, o.cfg)
		if err != nil {
			fmt.Fprintln(stderr, "anteater:", err)
			return 1
		}
		fmt.Fprintf(stderr, "[%d/%d] %s: %d train, %d test rows, fit %.1fs, %.0f rows/s, F1 %.4f, F1(PA) %.4f, %s\n",
			i+1, len(names), n, len(m.Train), len(m.Test), r.TrainSeconds, float64(r.TestRows)/max(r.ScoreSeconds, 1e-9),
			r.Point.F1, r.Adjusted.F1, time.Since(start).Round(time.Millisecond))
		if o.out != "" {
			if err := writeScores(filepath.Join(o.out, n+".csv"), r); err != nil {
				fmt.Fprintln(stderr, "anteater:", err)
				return 1
			}
		}
		results = append(results, r)
	}
	overall := smd.Overall(results)
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(struct {
			Model    string        `json:"model"`
			Machines []*smd.Result `json:"machines"`
			Overall  *smd.Result   `json:"overall"`
		}{o.cfg.Model, results, overall})
	} else {
		err = printSMDTable(stdout, o.cfg.Model, results, overall)
	}
	if err != nil {
		fmt.Fprintln(stderr, "anteater:", err)
		return 1
	}
	return 0
}

func printSMDTable(w io.Writer, model string, rs []*smd.Result, overall *smd.Result) error {
	fmt.Fprintf(w, "SMD, model %s. Threshold: score >= 1.0, calibrated on training scores only (no test labels).\n", model)
	fmt.Fprintln(w, "PA = point-adjusted. ORACLE columns pick the best threshold with the test labels: not achievable, for comparison only.")
	fmt.Fprintln(w, "overall = computed on the concatenation of all machines (one threshold; PA within each machine).")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "machine\tP\tR\tF1\tPA-P\tPA-R\tPA-F1\tORACLE-F1\tORACLE-PA-F1\tHitRate@100%\tHitRate@150%\t")
	for _, r := range append(rs, overall) {
		fmt.Fprintf(tw, "%s\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t\n", r.Machine,
			r.Point.Precision, r.Point.Recall, r.Point.F1,
			r.Adjusted.Precision, r.Adjusted.Recall, r.Adjusted.F1,
			r.OraclePoint.F1, r.OracleAdjusted.F1, r.HitRate100, r.HitRate150)
	}
	return tw.Flush()
}

func writeScores(path string, r *smd.Result) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	bw := bufio.NewWriter(f)
	bw.WriteString("score,pred\n")
	var buf []byte
	for i, s := range r.Scores {
		buf = strconv.AppendFloat(buf[:0], s, 'g', 8, 64)
		buf = append(buf, ',')
		if r.Pred[i] {
			buf = append(buf, '1')
		} else {
			buf = append(buf, '0')
		}
		buf = append(buf, '\n')
		bw.Write(buf)
	}
	return bw.Flush()
}
