package config

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Coordinator owns the configuration file: it loads it, hands a valid
// configuration to its subscribers, and on a failed reload keeps the
// running configuration and says so in
// anteater_config_last_reload_successful and the log.
type Coordinator struct {
	path   string
	logger *slog.Logger

	mu          sync.Mutex
	cfg         *Config
	subscribers []func(*Config) error

	success     prometheus.Gauge
	successTime prometheus.Gauge
}

// NewCoordinator returns a Coordinator of the file at path; call Reload to
// load it.
func NewCoordinator(path string, reg prometheus.Registerer, logger *slog.Logger) *Coordinator {
	f := promauto.With(reg)
	return &Coordinator{
		path:   path,
		logger: logger,
		success: f.NewGauge(prometheus.GaugeOpts{
			Name: "anteater_config_last_reload_successful",
			Help: "1 when the last configuration (re)load succeeded.",
		}),
		successTime: f.NewGauge(prometheus.GaugeOpts{
			Name: "anteater_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful configuration (re)load.",
		}),
	}
}

// Subscribe adds functions called in order with every new configuration.
func (c *Coordinator) Subscribe(fns ...func(*Config) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.subscribers = append(c.subscribers, fns...)
}

// Config returns the running configuration (nil before the first load).
func (c *Coordinator) Config() *Config {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg
}

// Reload loads the file and applies it. On any error the running
// configuration stays in place and the error is returned.
func (c *Coordinator) Reload() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg, err := LoadFile(c.path)
	if err == nil {
		for _, fn := range c.subscribers {
			if err = fn(cfg); err != nil {
				err = fmt.Errorf("apply %s: %w", c.path, err)
				break
			}
		}
	}
	if err != nil {
		c.success.Set(0)
		if c.cfg != nil {
			c.logger.Error("Loading configuration failed; keeping the running one", "file", c.path, "err", err)
		} else {
			c.logger.Error("Loading configuration failed", "file", c.path, "err", err)
		}
		return err
	}
	c.cfg = cfg
	c.success.Set(1)
	c.successTime.SetToCurrentTime()
	c.logger.Info("Configuration loaded", "file", c.path, "jobs", len(cfg.Jobs))
	return nil
}
