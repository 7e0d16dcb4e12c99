// Command anteater scores Prometheus series for anomalies, exposes the
// scores as metrics, and turns Alertmanager notifications into
// gala-anteater-compatible events on Kafka.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"
)

// subcommand is one `anteater <name>` command. Each file of this package
// registers its own in init(), so commands stay independent.
type subcommand struct {
	// name is the command path; "eval nab" nests nab under eval (the
	// parent is created on first use, its help from parentHelp).
	name, help string
	isDefault  bool
	// setup declares the command's flags and returns the function that
	// runs it; the function returns the process exit code.
	setup func(cmd *kingpin.CmdClause) func(ctx context.Context) int
}

var subcommands []subcommand

func register(s subcommand) { subcommands = append(subcommands, s) }

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	app := kingpin.New("anteater", "Anomaly detection and root-cause analysis for Prometheus.")
	app.Version(version.Print("anteater"))
	app.HelpFlag.Short('h')
	runners := map[string]func(context.Context) int{}
	for _, s := range subcommands {
		cmd := command(app, s.name, s.help)
		if s.isDefault {
			cmd = cmd.Default()
		}
		runners[cmd.FullCommand()] = s.setup(cmd)
	}
	selected, err := app.Parse(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "anteater:", err)
		return 2
	}
	r, ok := runners[selected]
	if !ok {
		fmt.Fprintf(os.Stderr, "anteater: unknown command %q\n", selected)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return r(ctx)
}

// parentHelp describes the commands that only group others.
var parentHelp = map[string]string{
	"eval": "Evaluate the detectors on public benchmarks (same code as the service).",
}

// command creates the (possibly nested) kingpin command for a path.
func command(app *kingpin.Application, path, help string) *kingpin.CmdClause {
	parts := strings.Fields(path)
	var parent *kingpin.CmdClause
	for i, p := range parts {
		h := help
		if i < len(parts)-1 {
			h = parentHelp[p]
		}
		var next *kingpin.CmdClause
		if parent == nil {
			if next = app.GetCommand(p); next == nil {
				next = app.Command(p, h)
			}
		} else if next = parent.GetCommand(p); next == nil {
			next = parent.Command(p, h)
		}
		parent = next
	}
	return parent
}
