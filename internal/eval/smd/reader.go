// Package smd reads the Server Machine Dataset (OmniAnomaly's SMD layout)
// and computes its published metrics: precision, recall and F1 with and
// without point-adjust, the oracle best F1, and the HitRate of the
// dimensions blamed for each anomaly.
package smd

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Segment is one labelled anomaly of interpretation_label: test rows
// [Start, End) caused by the 0-based dimensions Dims.
type Segment struct {
	Start, End int
	Dims       []int
}

// Machine is one SMD machine.
type Machine struct {
	Name        string
	Train, Test [][]float64
	// Labels marks the anomalous test rows.
	Labels []bool
	// Interpretation lists the labelled segments with their causes.
	Interpretation []Segment
}

// Dims is the number of metrics per row.
func (m *Machine) Dims() int {
	if len(m.Train) == 0 {
		return 0
	}
	return len(m.Train[0])
}

// Discover lists the machines under dir that have all four files, sorted.
// Machines found in any of the four folders but missing a file are
// returned in skipped with the reason.
func Discover(dir string) (names []string, skipped map[string]string, err error) {
	seen := map[string]bool{}
	for _, sub := range []string{"train", "test", "test_label", "interpretation_label"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, nil, fmt.Errorf("smd: %w", err)
		}
		for _, e := range ents {
			if n, ok := machineName(e.Name()); ok && !e.IsDir() {
				seen[n] = true
			}
		}
	}
	if len(seen) == 0 {
		return nil, nil, fmt.Errorf("smd: no machine files under %s (want train/, test/, test_label/, interpretation_label/)", dir)
	}
	skipped = map[string]string{}
	for n := range seen {
		var missing []string
		for _, sub := range []string{"train", "test", "test_label", "interpretation_label"} {
			if _, err := findFile(dir, sub, n); err != nil {
				missing = append(missing, sub+"/"+n+".txt")
			}
		}
		if len(missing) > 0 {
			skipped[n] = "missing " + strings.Join(missing, ", ")
			continue
		}
		names = append(names, n)
	}
	slices.Sort(names)
	return names, skipped, nil
}

func machineName(file string) (string, bool) {
	if n, ok := strings.CutSuffix(file, ".txt.gz"); ok {
		return n, true
	}
	return strings.CutSuffix(file, ".txt")
}

// findFile returns dir/sub/name.txt or, failing that, name.txt.gz.
func findFile(dir, sub, name string) (string, error) {
	for _, ext := range []string{".txt", ".txt.gz"} {
		p := filepath.Join(dir, sub, name+ext)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("smd: no %s/%s.txt[.gz] under %s: %w", sub, name, dir, fs.ErrNotExist)
}

// open opens a file, decompressing .gz.
func open(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("smd: %w", err)
	}
	if !strings.HasSuffix(path, ".gz") {
		return f, nil
	}
	z, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("smd: %s: %w", path, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{z, closers{z, f}}, nil
}

type closers []io.Closer

func (c closers) Close() error {
	var errs []error
	for _, x := range c {
		errs = append(errs, x.Close())
	}
	return errors.Join(errs...)
}

// Load reads machine name from dir.
func Load(dir, name string) (*Machine, error) {
	m := &Machine{Name: name}
	var err error
	if m.Train, err = readMatrix(dir, "train", name); err != nil {
		return nil, err
	}
	if m.Test, err = readMatrix(dir, "test", name); err != nil {
		return nil, err
	}
	if d, t := len(m.Train[0]), len(m.Test[0]); d != t {
		return nil, fmt.Errorf("smd: %s: train has %d columns, test %d", name, d, t)
	}
	if m.Labels, err = readLabels(dir, name, len(m.Test)); err != nil {
		return nil, err
	}
	if m.Interpretation, err = readInterpretation(dir, name, len(m.Test), m.Dims()); err != nil {
		return nil, err
	}
	return m, nil
}

// eachLine calls fn for every non-blank line of dir/sub/name.txt[.gz].
func eachLine(dir, sub, name string, fn func(lineNo int, line string) error) (err error) {
	p, err := findFile(dir, sub, name)
	if err != nil {
		return err
	}
	r, err := open(p)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := r.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("smd: %s: %w", p, cerr)
		}
	}()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if err := fn(n, line); err != nil {
			return fmt.Errorf("smd: %s:%d: %w", p, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("smd: %s: %w", p, err)
	}
	return nil
}

func readMatrix(dir, sub, name string) ([][]float64, error) {
	var rows [][]float64
	err := eachLine(dir, sub, name, func(_ int, line string) error {
		fields := strings.Split(line, ",")
		if len(rows) > 0 && len(fields) != len(rows[0]) {
			return fmt.Errorf("%d columns, want %d", len(fields), len(rows[0]))
		}
		row := make([]float64, len(fields))
		for j, f := range fields {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil {
				return fmt.Errorf("column %d: %w", j+1, err)
			}
			row[j] = v
		}
		rows = append(rows, row)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("smd: %s/%s: no rows", sub, name)
	}
	return rows, nil
}

func readLabels(dir, name string, n int) ([]bool, error) {
	var out []bool
	err := eachLine(dir, "test_label", name, func(_ int, line string) error {
		switch line {
		case "0":
			out = append(out, false)
		case "1":
			out = append(out, true)
		default:
			return fmt.Errorf("label %q is not 0 or 1", line)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) != n {
		return nil, fmt.Errorf("smd: test_label/%s has %d labels for %d test rows", name, len(out), n)
	}
	return out, nil
}

// readInterpretation parses "start-end:d1,d2,..." lines: 0-based,
// end-exclusive rows and 1-based columns.
func readInterpretation(dir, name string, rows, dims int) ([]Segment, error) {
	var out []Segment
	err := eachLine(dir, "interpretation_label", name, func(_ int, line string) error {
		span, cols, ok := strings.Cut(line, ":")
		if !ok {
			return fmt.Errorf("want start-end:d1,d2,..., have %q", line)
		}
		a, b, ok := strings.Cut(span, "-")
		if !ok {
			return fmt.Errorf("want start-end, have %q", span)
		}
		var s Segment
		var err error
		if s.Start, err = strconv.Atoi(strings.TrimSpace(a)); err != nil {
			return fmt.Errorf("start: %w", err)
		}
		if s.End, err = strconv.Atoi(strings.TrimSpace(b)); err != nil {
			return fmt.Errorf("end: %w", err)
		}
		if s.Start < 0 || s.End <= s.Start || s.End > rows {
			return fmt.Errorf("segment %d-%d outside the %d test rows", s.Start, s.End, rows)
		}
		for c := range strings.SplitSeq(cols, ",") {
			d, err := strconv.Atoi(strings.TrimSpace(c))
			if err != nil {
				return fmt.Errorf("column: %w", err)
			}
			if d < 1 || d > dims {
				return fmt.Errorf("column %d outside 1..%d", d, dims)
			}
			if !slices.Contains(s.Dims, d-1) {
				s.Dims = append(s.Dims, d-1)
			}
		}
		out = append(out, s)
		return nil
	})
	return out, err
}
