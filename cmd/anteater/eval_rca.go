package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/alecthomas/kingpin/v2"

	rcaeval "github.com/anteater-dev/anteater/internal/eval/rca"
	"github.com/anteater-dev/anteater/rca"
)

func init() {
	register(subcommand{
		name: "eval rca",
		help: "Rank root-cause services on fault-injection cases (RCAEval layout) and print AC@1..5 and Avg@5.",
		setup: func(cmd *kingpin.CmdClause) func(ctx context.Context) int {
			data := cmd.Flag("data", "Dataset directory: labels.csv and <service>-<fault>/<n>/{normal,anomalous}.csv.gz.").Required().ExistingDir()
			methods := cmd.Flag("method", "Ranking method; repeat to combine (default: the rca config's default methods). One of: robust, nsigma, correlation, pagerank.").Enums(rca.Methods...)
			direction := cmd.Flag("direction", "Changes that count: both, up or down.").Default("both").Enum("both", "up", "down")
			asJSON := cmd.Flag("json", "Print the report as JSON.").Bool()
			return func(ctx context.Context) int {
				return evalRCA(ctx, *data, *methods, *direction, *asJSON)
			}
		},
	})
}

func evalRCA(ctx context.Context, dir string, methods []string, direction string, asJSON bool) int {
	cfg := rca.DefaultConfig()
	if len(methods) > 0 {
		cfg.Methods = methods
	}
	cfg.Direction = direction
	opts, err := cfg.EngineOptions()
	if err != nil {
		fmt.Fprintln(os.Stderr, "anteater eval rca:", err)
		return 2
	}
	// The benchmark's windows are the recordings themselves: all normal
	// data before the injection, all anomalous data after.
	opts.Before, opts.After = 0, 0
	engine, err := rca.NewEngine(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "anteater eval rca:", err)
		return 2
	}
	rep, err := rcaeval.Evaluate(ctx, dir, engine, opts.Methods, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "anteater eval rca:", err)
		return 1
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = rep.WriteText(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "anteater eval rca:", err)
		return 1
	}
	return 0
}
