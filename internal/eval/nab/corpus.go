package nab

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// TimeLayout is NAB's timestamp format. Parsing also accepts the
// fractional seconds the label files carry (".000000").
const TimeLayout = "2006-01-02 15:04:05"

// WindowsFile is the labels file read from the corpus directory.
const WindowsFile = "labels/combined_windows.json"

// Window is one labelled anomaly window, as inclusive row indices.
type Window struct {
	First, Last int
}

// Len is the number of rows in the window.
func (w Window) Len() int { return w.Last - w.First + 1 }

// File is one NAB data file with its windows resolved to rows.
type File struct {
	// Name is the file's key in the labels: "<category>/<file>.csv".
	Name string
	// Category is the data subdirectory the file lives in.
	Category string
	// Timestamps are Unix milliseconds (the CSV's wall-clock time read as
	// UTC), never decreasing: NAB files repeat a few at clock changes.
	Timestamps []int64
	Values     []float64
	// Windows are sorted and do not overlap.
	Windows []Window
}

// Rows is the number of data rows.
func (f *File) Rows() int { return len(f.Timestamps) }

// Corpus is the part of NAB found in a directory: every data file that
// has an entry in the labels, in name order.
type Corpus struct {
	Files []*File
}

// Windows is the number of labelled windows over all files.
func (c *Corpus) Windows() int {
	n := 0
	for _, f := range c.Files {
		n += len(f.Windows)
	}
	return n
}

// Rows is the number of data rows over all files.
func (c *Corpus) Rows() int {
	n := 0
	for _, f := range c.Files {
		n += f.Rows()
	}
	return n
}

// Load reads NAB's layout under dir: dir/data/<category>/<file>.csv and
// dir/labels/combined_windows.json. Data files without a labels entry are
// skipped with a warning, since NAB cannot score them; labels for files
// that are not present are ignored (a directory may hold a subset).
func Load(dir string, logger *slog.Logger) (*Corpus, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	labels, err := readWindows(filepath.Join(dir, filepath.FromSlash(WindowsFile)))
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(dir, "data")
	names, err := dataFiles(dataDir)
	if err != nil {
		return nil, err
	}
	c := &Corpus{}
	for _, name := range names {
		limits, ok := labels[name]
		if !ok {
			logger.Warn("data file has no entry in the labels; skipping it", "file", name, "labels", WindowsFile)
			continue
		}
		p := filepath.Join(dataDir, filepath.FromSlash(name))
		f, err := readDataFile(p, name)
		if err != nil {
			return nil, err
		}
		if f.Windows, err = resolveWindows(f, limits); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", WindowsFile, name, err)
		}
		c.Files = append(c.Files, f)
	}
	if len(c.Files) == 0 {
		return nil, fmt.Errorf("no labelled data files under %s", dataDir)
	}
	return c, nil
}

// dataFiles lists the <category>/<file>.csv names under dataDir, sorted.
func dataFiles(dataDir string) ([]string, error) {
	cats, err := os.ReadDir(dataDir)
	if err != nil {
		return nil, fmt.Errorf("reading NAB data directory: %w", err)
	}
	var names []string
	for _, cat := range cats {
		if !cat.IsDir() || strings.HasPrefix(cat.Name(), ".") {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(dataDir, cat.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading NAB category: %w", err)
		}
		for _, e := range entries {
			if e.Type()&fs.ModeType != 0 || !strings.HasSuffix(e.Name(), ".csv") || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			names = append(names, path.Join(cat.Name(), e.Name()))
		}
	}
	sort.Strings(names)
	return names, nil
}

// readWindows reads combined_windows.json: file name to [start, end] pairs.
func readWindows(p string) (map[string][][2]time.Time, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading NAB labels: %w", err)
	}
	var raw map[string][][]string
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: not a map of file to [[start, end], ...]: %w", p, err)
	}
	out := make(map[string][][2]time.Time, len(raw))
	for name, pairs := range raw {
		ws := make([][2]time.Time, 0, len(pairs))
		for i, pair := range pairs {
			if len(pair) != 2 {
				return nil, fmt.Errorf("%s: %s: window %d has %d timestamps, want [start, end]", p, name, i+1, len(pair))
			}
			var w [2]time.Time
			for j, s := range pair {
				t, err := time.Parse(TimeLayout, strings.TrimSpace(s))
				if err != nil {
					return nil, fmt.Errorf("%s: %s: window %d: %w", p, name, i+1, err)
				}
				w[j] = t
			}
			ws = append(ws, w)
		}
		out[name] = ws
	}
	return out, nil
}

// readDataFile reads one `timestamp,value` CSV.
func readDataFile(p, name string) (*File, error) {
	fh, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("opening NAB data file: %w", err)
	}
	defer fh.Close()
	f, err := parseData(fh, name)
	if err != nil {
		return nil, fmt.Errorf("%s:%w", p, err)
	}
	return f, nil
}

// parseData parses a data file. Errors start with the line number so the
// caller can prefix the path ("file:line: ...").
func parseData(r io.Reader, name string) (*File, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked below, with a clearer message
	cr.ReuseRecord = true
	f := &File{Name: name, Category: path.Dir(name)}
	header := true
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("%d: %w", pe.Line, pe.Err)
			}
			return nil, fmt.Errorf("%d: %w", line, err)
		}
		if len(rec) != 2 {
			return nil, fmt.Errorf("%d: %d fields, want timestamp,value", line, len(rec))
		}
		if header {
			header = false
			h0 := strings.TrimPrefix(strings.TrimSpace(rec[0]), "\ufeff")
			if h0 != "timestamp" || strings.TrimSpace(rec[1]) != "value" {
				return nil, fmt.Errorf("%d: header is %q, want \"timestamp,value\"", line, strings.Join(rec, ","))
			}
			continue
		}
		t, err := time.Parse(TimeLayout, strings.TrimSpace(rec[0]))
		if err != nil {
			return nil, fmt.Errorf("%d: bad timestamp: %w", line, err)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[1]), 64)
		if err != nil {
			return nil, fmt.Errorf("%d: bad value: %w", line, err)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%d: value %q is not a finite number", line, rec[1])
		}
		ts := t.UnixMilli()
		// Repeated timestamps occur in NAB (clock changes); like NAB, rows
		// are scored by position, so only going back in time is an error.
		if n := len(f.Timestamps); n > 0 && ts < f.Timestamps[n-1] {
			return nil, fmt.Errorf("%d: timestamp %s is before the previous row's %s", line,
				t.Format(TimeLayout), time.UnixMilli(f.Timestamps[n-1]).UTC().Format(TimeLayout))
		}
		f.Timestamps = append(f.Timestamps, ts)
		f.Values = append(f.Values, v)
	}
	if header {
		return nil, errors.New("1: empty file, want header timestamp,value")
	}
	if len(f.Timestamps) == 0 {
		return nil, errors.New("2: no data rows")
	}
	return f, nil
}

// resolveWindows maps window timestamps to rows. Like NAB, both bounds must
// be timestamps of the file and a repeated timestamp means its first row;
// windows are sorted and may not overlap (NAB's sweeper walks them in order
// and would silently drop the rest).
func resolveWindows(f *File, limits [][2]time.Time) ([]Window, error) {
	ws := make([]Window, 0, len(limits))
	for i, l := range limits {
		var w Window
		for j, t := range l {
			row, ok := slices.BinarySearch(f.Timestamps, t.UnixMilli())
			if !ok {
				return nil, fmt.Errorf("window %d: %s %s is not a timestamp of the data file",
					i+1, [2]string{"start", "end"}[j], t.Format(TimeLayout))
			}
			if j == 0 {
				w.First = row
			} else {
				w.Last = row
			}
		}
		if w.Last < w.First {
			return nil, fmt.Errorf("window %d: end %s is before start %s", i+1, l[1].Format(TimeLayout), l[0].Format(TimeLayout))
		}
		ws = append(ws, w)
	}
	sort.SliceStable(ws, func(a, b int) bool { return ws[a].First < ws[b].First })
	for i := 1; i < len(ws); i++ {
		if ws[i].First <= ws[i-1].Last {
			ts := func(row int) string { return time.UnixMilli(f.Timestamps[row]).UTC().Format(TimeLayout) }
			return nil, fmt.Errorf("windows overlap: [%s, %s] and [%s, %s]",
				ts(ws[i-1].First), ts(ws[i-1].Last), ts(ws[i].First), ts(ws[i].Last))
		}
	}
	return ws, nil
}
