// Package rca ranks the root causes of an anomaly from time series and,
// when there is one, a dependency graph between entities.
package rca

import "time"

// ArangoConfig is the `arangodb` section of anteater.yml: where gala-spider's
// topology lives. An empty URL disables the ArangoDB topology source.
type ArangoConfig struct {
	// URL of the ArangoDB server, e.g. http://localhost:8529 (default "").
	URL string `yaml:"url,omitempty"`
	// Database is the database name (default spider).
	Database string `yaml:"db_name,omitempty"`
	Username string `yaml:"username,omitempty"`
	Password string `yaml:"password,omitempty"`
	// Timeout of one request (default 10s).
	Timeout time.Duration `yaml:"timeout,omitempty"`
}
