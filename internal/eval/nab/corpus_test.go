package nab

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLoad(t *testing.T) {
	var logs bytes.Buffer
	c, err := Load(filepath.Join("testdata", "corpus"), slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	require.Len(t, c.Files, 2)

	a := c.Files[0]
	require.Equal(t, "catA/a.csv", a.Name)
	require.Equal(t, "catA", a.Category)
	require.Equal(t, []float64{1.5, 2, 2.5, 30, 31, 29, 2, 10}, a.Values)
	start := time.Date(2014, 4, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	require.Equal(t, start, a.Timestamps[0])
	require.Equal(t, start+7*5*60_000, a.Timestamps[7])
	require.Equal(t, []Window{{First: 3, Last: 5}}, a.Windows)

	b := c.Files[1]
	require.Equal(t, "catB/c.csv", b.Name)
	require.Empty(t, b.Windows)
	require.Equal(t, []float64{-3, 4}, b.Values)

	require.Equal(t, 1, c.Windows())
	require.Equal(t, 10, c.Rows())
	// The unlabelled file is skipped with a warning naming it.
	require.Contains(t, logs.String(), "level=WARN")
	require.Contains(t, logs.String(), "catA/nolabel.csv")
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct{ dir, want string }{
		{"badrow", filepath.Join("testdata", "badrow", "data", "cat", "x.csv") + ":4: bad timestamp"},
		{"badwindow", "cat/x.csv: window 1: end 2014-04-01 00:07:00 is not a timestamp of the data file"},
		{"shortwindow", "cat/x.csv: window 1 has 1 timestamps, want [start, end]"},
		{"badjson", "not a map of file to [[start, end], ...]"},
		{"missing", "reading NAB labels"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", tc.dir), nil)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestLoadNothingLabelled(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "data", "cat"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "labels"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "data", "cat", "x.csv"), []byte("timestamp,value\n2014-04-01 00:00:00,1\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "labels", "combined_windows.json"), []byte(`{}`), 0o644))
	_, err := Load(dir, nil)
	require.ErrorContains(t, err, "no labelled data files")
}

func TestParseDataErrors(t *testing.T) {
	const h = "timestamp,value\n"
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "1: empty file"},
		{"header only", h, "2: no data rows"},
		{"wrong header", "time,value\n2014-04-01 00:00:00,1\n", `1: header is "time,value"`},
		{"three fields", h + "2014-04-01 00:00:00,1\n2014-04-01 00:05:00,2,3\n", "3: 3 fields, want timestamp,value"},
		{"one field", h + "2014-04-01 00:00:00\n", "2: 1 fields"},
		{"bad timestamp", h + "2014-04-01 00:00:00,1\n2014/04/01 00:05:00,2\n", "3: bad timestamp"},
		{"bad value", h + "2014-04-01 00:00:00,1\n2014-04-01 00:05:00,abc\n", `3: bad value: strconv.ParseFloat: parsing "abc"`},
		{"NaN value", h + "2014-04-01 00:00:00,NaN\n", `2: value "NaN" is not a finite number`},
		{"infinite value", h + "2014-04-01 00:00:00,+Inf\n", "2: value \"+Inf\" is not a finite number"},
		{"backwards", h + "2014-04-01 00:05:00,1\n2014-04-01 00:00:00,2\n", "3: timestamp 2014-04-01 00:00:00 is before the previous row's 2014-04-01 00:05:00"},
		{"bare quote", h + "2014-04-01 00:00:00,\"1\n", "2: extraneous or missing \" in quoted-field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseData(strings.NewReader(tc.in), "cat/x.csv")
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestParseDataAccepts(t *testing.T) {
	// A byte-order mark, spaces around fields, CRLF line ends and
	// fractional seconds are all tolerated.
	in := "\ufefftimestamp, value\r\n2014-04-01 00:00:00.000000, 1\r\n2014-04-01 00:05:00,2.5\r\n"
	f, err := parseData(strings.NewReader(in), "cat/x.csv")
	require.NoError(t, err)
	require.Equal(t, []float64{1, 2.5}, f.Values)
	require.Equal(t, int64(5*60_000), f.Timestamps[1]-f.Timestamps[0])
}

func TestRepeatedTimestamps(t *testing.T) {
	// NAB files repeat timestamps at clock changes; rows keep their order
	// and a window bound on a repeated timestamp means its first row, as
	// NAB's timestamps.index does.
	in := "timestamp,value\n2014-03-09 01:55:00,1\n2014-03-09 03:00:00,2\n2014-03-09 03:00:00,3\n2014-03-09 03:00:00,4\n2014-03-09 03:05:00,5\n"
	f, err := parseData(strings.NewReader(in), "cat/x.csv")
	require.NoError(t, err)
	require.Equal(t, []float64{1, 2, 3, 4, 5}, f.Values)
	at := func(row int) time.Time { return time.UnixMilli(f.Timestamps[row]).UTC() }
	ws, err := resolveWindows(f, [][2]time.Time{{at(0), at(3)}})
	require.NoError(t, err)
	require.Equal(t, []Window{{First: 0, Last: 1}}, ws)
	ws, err = resolveWindows(f, [][2]time.Time{{at(2), at(4)}})
	require.NoError(t, err)
	require.Equal(t, []Window{{First: 1, Last: 4}}, ws)
}

func TestResolveWindows(t *testing.T) {
	f := testFile("x", 10)
	at := func(row int) time.Time { return time.UnixMilli(f.Timestamps[row]).UTC() }

	ws, err := resolveWindows(f, [][2]time.Time{{at(6), at(8)}, {at(1), at(2)}})
	require.NoError(t, err)
	require.Equal(t, []Window{{First: 1, Last: 2}, {First: 6, Last: 8}}, ws, "sorted by start")

	_, err = resolveWindows(f, [][2]time.Time{{at(1), at(4)}, {at(4), at(6)}})
	require.ErrorContains(t, err, "windows overlap")
	_, err = resolveWindows(f, [][2]time.Time{{at(5), at(4)}})
	require.ErrorContains(t, err, "window 1: end 1970-01-01 00:04:00 is before start 1970-01-01 00:05:00")
}
