// Package rules holds anteater's Prometheus rule files: recording rules over
// the anomaly scores, the anomaly alerts anteater's webhook consumes (label
// anteater="anomaly") and alerts on anteater's own health. The files are
// embedded so that tools and tests read exactly what ships.
package rules

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"sort"

	"gopkg.in/yaml.v3"
)

//go:embed *.rules.yml
var files embed.FS

// Files returns the embedded rule files (the *.rules.yml of this directory).
func Files() fs.FS { return files }

// File is one Prometheus rule file.
type File struct {
	Groups []Group `yaml:"groups"`
}

// Group is a rule group.
type Group struct {
	Name     string `yaml:"name"`
	Interval string `yaml:"interval,omitempty"`
	Rules    []Rule `yaml:"rules"`
}

// Rule is a recording rule (Record set) or an alerting rule (Alert set).
type Rule struct {
	Record        string            `yaml:"record,omitempty"`
	Alert         string            `yaml:"alert,omitempty"`
	Expr          string            `yaml:"expr"`
	For           string            `yaml:"for,omitempty"`
	KeepFiringFor string            `yaml:"keep_firing_for,omitempty"`
	Labels        map[string]string `yaml:"labels,omitempty"`
	Annotations   map[string]string `yaml:"annotations,omitempty"`
}

// Name is the rule's record or alert name.
func (r Rule) Name() string {
	if r.Record != "" {
		return r.Record
	}
	return r.Alert
}

// Load parses every embedded rule file, keyed by file name. Unknown fields
// are errors, so a misspelt key cannot silently drop a setting.
func Load() (map[string]File, error) {
	names, err := fs.Glob(files, "*.rules.yml")
	if err != nil {
		return nil, fmt.Errorf("list rule files: %w", err)
	}
	sort.Strings(names)
	out := make(map[string]File, len(names))
	for _, name := range names {
		b, err := fs.ReadFile(files, name)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		var f File
		if err := dec.Decode(&f); err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				if (r.Record == "") == (r.Alert == "") {
					return nil, fmt.Errorf("%s: group %q: a rule needs exactly one of record and alert", name, g.Name)
				}
			}
		}
		out[name] = f
	}
	return out, nil
}

// RecordedNames returns the metric names the recording rules of files
// produce.
func RecordedNames(files map[string]File) map[string]bool {
	out := map[string]bool{}
	for _, f := range files {
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					out[r.Record] = true
				}
			}
		}
	}
	return out
}
