// Package dashboards holds anteater's Grafana dashboards (JSON, provisioned
// from files) and Grafana's provisioning files for them. The files are
// embedded so that tools and tests read exactly what ships.
package dashboards

import "embed"

// Files holds the dashboards (*.json) and provisioning/*.yml.
//
//go:embed *.json provisioning/*.yml
var Files embed.FS
