package main

import (
	"context"
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
			cmd.Flag("json", "Print the results as JSON instead of a table.").BoolVar(&o.json)
			cmd.Flag("workers", "Files scored in parallel (0: GOMAXPROCS).").Default("0").IntVar(&o.workers)
			return func(ctx context.Context) int { return evalNAB(ctx, o, os.Stdout, os.Stderr) }
		},
	})
}

type evalNABOptions struct {
	data, model, out string
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

// nabDetector adapts a scorer model to the NAB runner.
type nabDetector struct{ m scorer.Model }

func (d nabDetector) Observe(ts int64, v float64) float64 { return d.m.Observe(ts, v).Score }

func evalNAB(ctx context.Context, o *evalNABOptions, stdout, stderr io.Writer) int {
	logger := promslog.New(&promslog.Config{Writer: stderr}).With("component", "eval-nab")
	spec := scorer.Spec{Model: o.model, Params: o.params}
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
	scores, err := nab.Run(ctx, c, func() (nab.Detector, error) {
		m, err := scorer.New(spec)
		if err != nil {
			return nil, err
		}
		return nabDetector{m}, nil
	}, o.workers, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "anteater:", err)
		return 1
	}
	elapsed := time.Since(start)
	logger.Info("scored NAB", "duration", elapsed.Round(time.Millisecond), "rows_per_second", int(float64(c.Rows())/elapsed.Seconds()))

	if o.out != "" {
		if err := nab.WriteResults(o.out, detector, c, scores); err != nil {
			fmt.Fprintln(stderr, "anteater:", err)
			return 1
		}
		logger.Info("wrote NAB results", "dir", o.out, "detector", detector)
	}
	report, err := nab.Evaluate(detector, c, scores)
	if err != nil {
		fmt.Fprintln(stderr, "anteater:", err)
		return 1
	}
	if o.json {
		err = report.WriteJSON(stdout)
	} else {
		err = report.WriteTable(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "anteater:", err)
		return 1
	}
	return 0
}
