package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	oklogrun "github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/anteater-dev/anteater/exporter"
	"github.com/anteater-dev/anteater/internal/config"
)

// defaultListenAddress is anteater's port. 9115, the first idea, belongs
// to blackbox_exporter; 9863 is not in Prometheus' list of exporter
// default ports.
const defaultListenAddress = ":9863"

// serveOptions are the flags of `anteater serve`.
type serveOptions struct {
	configFile             string
	web                    *web.FlagConfig
	shardTotal, shardIndex int
	shutdownTimeout        time.Duration
	log                    promslog.Config
	// kafkaEmbedded runs the in-memory dev broker on the configured
	// broker address (loopback only), for the demo and tests.
	kafkaEmbedded bool
}

func init() {
	register(subcommand{
		name:      "serve",
		help:      "Score the configured series and serve the scores on /metrics (the default command).",
		isDefault: true,
		setup: func(cmd *kingpin.CmdClause) func(ctx context.Context) int {
			o := serveFlags(cmd)
			return func(ctx context.Context) int {
				logger := promslog.New(&o.log)
				if err := serve(ctx, o, logger); err != nil {
					logger.Error("anteater serve failed", "err", err)
					return 1
				}
				return 0
			}
		},
	})
}

// serveFlags declares serve's flags on cmd; the options fill in when the
// command line is parsed.
func serveFlags(cmd *kingpin.CmdClause) *serveOptions {
	o := &serveOptions{}
	cmd.Flag("config.file", "anteater configuration file (anteater.yml, or a gala-anteater.yaml).").
		Default("anteater.yml").StringVar(&o.configFile)
	o.web = kingpinflag.AddFlags(cmd, defaultListenAddress)
	cmd.Flag("shard.total", "Number of replicas sharing the series; each scores those whose label hash falls in its shard.").
		Default("1").IntVar(&o.shardTotal)
	cmd.Flag("shard.index", "This replica's shard, 0 to shard.total-1.").
		Default("0").IntVar(&o.shardIndex)
	cmd.Flag("web.shutdown-timeout", "How long in-flight requests may take at shutdown.").
		Default("10s").DurationVar(&o.shutdownTimeout)
	cmd.Flag("kafka.embedded", "Run an in-memory Kafka broker (franz-go kfake, not durable) in this process on the configured kafka.brokers address, which must be a single loopback address. For demos and tests.").
		BoolVar(&o.kafkaEmbedded)
	// promslog's flag.AddFlags wants the application; the same flags are
	// declared on the command here.
	o.log.Level = promslog.NewLevel()
	cmd.Flag(promslogflag.LevelFlagName, promslogflag.LevelFlagHelp).Default("info").
		HintOptions(promslog.LevelFlagOptions...).SetValue(o.log.Level)
	o.log.Format = promslog.NewFormat()
	cmd.Flag(promslogflag.FormatFlagName, promslogflag.FormatFlagHelp).Default("logfmt").
		HintOptions(promslog.FormatFlagOptions...).SetValue(o.log.Format)
	return o
}

// serveEnv is what serve hands to the components running next to the
// exporter: a component mounts its handlers on Mux, registers its metrics
// on Registry, subscribes to Coordinator and adds its actors to Group.
type serveEnv struct {
	Options     *serveOptions
	Logger      *slog.Logger
	Registry    *prometheus.Registry
	Mux         *http.ServeMux
	Coordinator *config.Coordinator
	Exporter    *exporter.Exporter
	Group       *oklogrun.Group

	// closers release what components acquired before the group runs
	// (listeners, files), last first, whether or not it ran.
	closers []func()
}

// atExit adds fn to what serve releases when it returns.
func (e *serveEnv) atExit(fn func()) { e.closers = append(e.closers, fn) }

func (e *serveEnv) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
}

// serveComponents are added to every `anteater serve` by addComponents.
// Other components (the webhook with its /api/v1/alerts receiver, ...)
// append their setup function here from an init() in their own file of
// this package.
var serveComponents []func(env *serveEnv) error

// addComponents is where mounts and actors of further components are
// added; it runs after the configuration loaded and before anything
// serves.
func addComponents(env *serveEnv) error {
	for _, add := range serveComponents {
		if err := add(env); err != nil {
			return err
		}
	}
	return nil
}

func serve(ctx context.Context, o *serveOptions, logger *slog.Logger) error {
	logger.Info("Starting anteater", "version", version.Info(), "build_context", version.BuildContext())
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		versioncollector.NewCollector("anteater"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	exp, err := exporter.New(exporter.Options{
		Logger:     logger.With("component", "exporter"),
		Registerer: reg,
		ShardTotal: o.shardTotal,
		ShardIndex: o.shardIndex,
	})
	if err != nil {
		return err
	}
	coord := config.NewCoordinator(o.configFile, reg, logger.With("component", "config"))
	coord.Subscribe(exp.ApplyConfig)
	if err := coord.Reload(); err != nil {
		return err
	}

	mux := http.NewServeMux()
	var g oklogrun.Group
	env := &serveEnv{Options: o, Logger: logger, Registry: reg, Mux: mux, Coordinator: coord, Exporter: exp, Group: &g}
	defer env.close()
	if err := mountCore(env); err != nil {
		return errors.Join(err, stopUnstarted(exp))
	}
	if err := addComponents(env); err != nil {
		return errors.Join(err, stopUnstarted(exp))
	}

	{ // The exporter's jobs.
		ctx, cancel := context.WithCancel(ctx)
		g.Add(func() error { return exp.Run(ctx) }, func(error) { cancel() })
	}
	{ // SIGHUP reloads; a bad file keeps the running configuration.
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		done := make(chan struct{})
		g.Add(func() error {
			for {
				select {
				case <-hup:
					_ = coord.Reload() // logged and counted by the coordinator
				case <-done:
					return nil
				}
			}
		}, func(error) {
			signal.Stop(hup)
			close(done)
		})
	}
	{ // Web server: TLS and basic auth from --web.config.file.
		// Bounded reads and idle connections so slow or idle clients cannot
		// hold goroutines; no WriteTimeout, so large /metrics scrapes finish.
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
		g.Add(func() error {
			if err := web.ListenAndServe(srv, o.web, logger.With("component", "web")); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("web server: %w", err)
			}
			return nil
		}, func(error) {
			sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
			defer cancel()
			_ = srv.Shutdown(sctx)
		})
	}
	{ // Termination (SIGINT, SIGTERM through ctx).
		g.Add(func() error {
			<-ctx.Done()
			logger.Info("Shutting down")
			return nil
		}, func(error) {})
	}
	return g.Run()
}

// stopUnstarted releases the state store of an exporter that will not
// run: Run with a cancelled context stops at once and closes it.
func stopUnstarted(exp *exporter.Exporter) error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return exp.Run(ctx)
}

// mountCore mounts the exporter's endpoints: /metrics, the landing page,
// /-/healthy, /-/ready and /-/reload.
func mountCore(env *serveEnv) error {
	metrics := promhttp.HandlerFor(
		env.Exporter.WithRegistry(env.Registry),
		promhttp.HandlerOpts{
			ErrorLog:      slog.NewLogLogger(env.Logger.Handler(), slog.LevelError),
			ErrorHandling: promhttp.ContinueOnError,
			Registry:      env.Registry,
		},
	)
	env.Mux.Handle("/metrics", metrics)
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        "anteater",
		Description: "Anomaly detection and root-cause analysis for Prometheus",
		Version:     version.Info(),
		Links: []web.LandingLinks{
			{Address: "metrics", Text: "Metrics", Description: "Anomaly scores and self-metrics"},
			{Address: "-/ready", Text: "Readiness", Description: "503 until every job completed its first cycle"},
			{Address: "-/healthy", Text: "Health"},
		},
	})
	if err != nil {
		return fmt.Errorf("landing page: %w", err)
	}
	env.Mux.Handle("/", landing)
	env.Mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = fmt.Fprintln(w, "Healthy")
	})
	env.Mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if ok, why := env.Exporter.Ready(); !ok {
			http.Error(w, "Not ready: "+why, http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
		_, _ = fmt.Fprintln(w, "Ready")
	})
	env.Mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "Use POST to reload the configuration", http.StatusMethodNotAllowed)
			return
		}
		if err := env.Coordinator.Reload(); err != nil {
			http.Error(w, "Reload failed, the running configuration is kept: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
		_, _ = fmt.Fprintln(w, "Configuration reloaded")
	})
	return nil
}
