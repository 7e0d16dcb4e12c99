package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"

	"github.com/anteater-dev/anteater/internal/eval/nab"
	"github.com/anteater-dev/anteater/scorer"
)

func init() {
	register(subcommand{
		name: "eval nab",
		help: "Evaluate a univariate model on the Numenta Anomaly Benchmark, scored as NAB does.",
		setup: func(cmd *kingpin.CmdClause) func(ctx context.Context) int {
			o := &evalNABOptions{params: map[string]string{}}
			cmd.Flag("data", "NAB directory with data/<category>/*.csv and labels/combined_windows.json.").Required().StringVar(&o.data)
			cmd.Flag("model", fmt.Sprintf("Scorer model (have %s).", strings.Join(scorerModelNames(), ", "))).Default(scorer.DefaultModel).StringVar(&o.model)
			cmd.Flag("param", "Model parameter KEY=VALUE (repeatable).").StringMapVar(&o.params)
			cmd.Flag("out", "Write per-row results in NAB's results layout under this directory.").StringVar(&o.out)
			cmd.Flag("json", "Print the results as JSON (an array: the episode output, then the plain score) instead of tables.").BoolVar(&o.json)
			cmd.Flag("workers", "Files scored in parallel (0: GOMAXPROCS).").Default("0").IntVar(&o.workers)
			cmd.Flag("tail", "Likelihood tail: gaussian or skewed (empty: the default).").StringVar(&o.tail)
			cmd.Flag("risk", "Calibration risk (0: the default).").Float64Var(&o.risk)
			cmd.Flag("guard-risk", "Likelihood mode's single-sample guard risk (0: the default).").Float64Var(&o.guardRisk)
			return func(ctx context.Context) int { return evalNAB(ctx, o, os.Stdout, os.Stderr) }
		},
	})
}

type evalNABOptions struct {
	data, model, out string
	tail             string
	risk, guardRisk  float64
	params           map[string]string
	json             bool
	workers          int
}

func scorerModelNames() []string {
	var names []string
	for _, m := range scorer.Models() {
		names = append(names, m.Name)
	}
	return names
}

// NAB outputs of one model run, in nabDetector's order. "episode" is
// what anteater notifies: Result.Score, except 0 on samples within the
// hold-off of an episode that already started (Result.Held), so an
// anomaly episode is detected once. "score" is the plain Result.Score
// that /metrics shows.
var nabOutputs = []struct{ name, help string }{
	{"episode", "Result.Score outside episode hold-offs, 0 within (Result.Held): what anteater notifies"},
	{"score", "plain Result.Score, as on /metrics"},
}

// nabDetector adapts a scorer model to the NAB runner.
type nabDetector struct{ m scorer.Model }

func (d nabDetector) ObserveAll(ts int64, v float64, out []float64) {
	r := d.m.Observe(ts, v)
	out[0], out[1] = r.Score, r.Score
	if r.Held {
		out[0] = 0
	}
}

func evalNAB(ctx context.Context, o *evalNABOptions, stdout, stderr io.Writer) int {
	logger := promslog.New(&promslog.Config{Writer: stderr}).With("component", "eval-nab")
	spec := scorer.Spec{Model: o.model, Params: o.params, Threshold: scorer.ThresholdSpec{Tail: o.tail, Risk: o.risk, GuardRisk: o.guardRisk}}
	if _, err := scorer.New(spec); err != nil {
		fmt.Fprintln(stderr, "anteater:", err)
		return 2
	}
	model := o.model
	if model == "" {
		model = scorer.DefaultModel
	}
	detector := nab.DetectorName(model)

	c, err := nab.Load(o.data, logger)
	if err != nil {
		fmt.Fprintln(stderr, "anteater:", err)
		return 1
	}
	logger.Info("scoring NAB", "model", model, "files", len(c.Files), "rows", c.Rows(), "windows", c.Windows())
	start := time.Now()
	outputs, err := nab.RunAll(ctx, c, func() (nab.MultiDetector, error) {
		m, err := scorer.New(spec)
		if err != nil {
			return nil, err
		}
		return nabDetector{m}, nil
	}, len(nabOutputs), o.workers, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "anteater:", err)
		return 1
	}
	elapsed := time.Since(start)
	logger.Info("scored NAB", "duration", elapsed.Round(time.Millisecond), "rows_per_second", int(float64(c.Rows())/elapsed.Seconds()))

	if o.out != "" {
		// NAB's layout holds one score per row: the episode output,
		// the one anteater notifies.
		if err := nab.WriteResults(o.out, detector, c, outputs[0]); err != nil {
			fmt.Fprintln(stderr, "anteater:", err)
			return 1
		}
		logger.Info("wrote NAB results", "dir", o.out, "detector", detector, "output", nabOutputs[0].name)
	}
	reports := make([]*nab.Report, len(nabOutputs))
	for k, out := range nabOutputs {
		if reports[k], err = nab.Evaluate(detector, c, outputs[k]); err != nil {
			fmt.Fprintln(stderr, "anteater:", err)
			return 1
		}
		reports[k].Output = out.name + " (" + out.help + ")"
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(reports)
	} else {
		for k, r := range reports {
			if k > 0 {
				fmt.Fprintln(stdout)
			}
			if err = r.WriteTable(stdout); err != nil {
				break
			}
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "anteater:", err)
		return 1
	}
	return 0
}
