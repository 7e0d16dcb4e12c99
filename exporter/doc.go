// Package exporter reads series from a Prometheus-API source on a schedule,
// scores them with the scorer models and exposes the scores on /metrics.
package exporter
