// Package e2e holds the end-to-end test of anteater: real node_exporter,
// Prometheus (with rules/anteater.rules.yml) and Alertmanager, the built
// anteater binary serving scores, webhook, rca and the embedded Kafka
// broker, and a target whose signal the test perturbs. It also checks that
// the demo's configuration (scripts/demo) reacts within the demo's time.
package e2e
