// Package webhook receives Alertmanager notifications, de-duplicates and
// persists them, and runs the worker that builds anomaly and cause events
// and hands them to the Kafka outbox.
package webhook
