// Package jobs holds anteater's built-in scoring jobs: node_exporter host
// metrics and the gala-gopher metrics gala-anteater watches.
package jobs

import _ "embed"

// Default is the YAML of the built-in jobs (a document with a top-level
// `jobs:` list, the layout of every job file).
//
//go:embed default.yml
var Default []byte
