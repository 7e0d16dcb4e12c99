package nab

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DetectorName turns a model name into a NAB detector name. NAB splits
// result file names on "_" to find the detector, so the name may not hold
// one.
func DetectorName(model string) string {
	return "anteater-" + strings.NewReplacer("_", "-", "/", "-", " ", "-").Replace(model)
}

// WriteResults writes per-row results in NAB's results layout,
// dir/<detector>/<category>/<detector>_<file>.csv with the columns
// timestamp,value,anomaly_score,label (label 1 inside windows), so NAB's
// own scripts can read them.
func WriteResults(dir, detector string, c *Corpus, scores [][]float64) error {
	if len(scores) != len(c.Files) {
		return fmt.Errorf("%d score series for %d files", len(scores), len(c.Files))
	}
	for i, f := range c.Files {
		p := filepath.Join(dir, detector, filepath.FromSlash(f.Category), detector+"_"+path.Base(f.Name))
		if err := writeResultFile(p, f, scores[i]); err != nil {
			return err
		}
	}
	return nil
}

func writeResultFile(p string, f *File, scores []float64) (err error) {
	if len(scores) != f.Rows() {
		return fmt.Errorf("%s: %d scores for %d rows", f.Name, len(scores), f.Rows())
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("creating results directory: %w", err)
	}
	fh, err := os.Create(p)
	if err != nil {
		return fmt.Errorf("creating results file: %w", err)
	}
	defer func() {
		if cerr := fh.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("closing results file: %w", cerr))
		}
	}()
	w := bufio.NewWriter(fh)
	w.WriteString("timestamp,value,anomaly_score,label\n")
	var buf []byte
	win := 0
	for i, ts := range f.Timestamps {
		for win < len(f.Windows) && f.Windows[win].Last < i {
			win++
		}
		label := byte('0')
		if win < len(f.Windows) && f.Windows[win].First <= i {
			label = '1'
		}
		buf = time.UnixMilli(ts).UTC().AppendFormat(buf[:0], TimeLayout)
		buf = append(buf, ',')
		buf = strconv.AppendFloat(buf, f.Values[i], 'g', -1, 64)
		buf = append(buf, ',')
		buf = strconv.AppendFloat(buf, scores[i], 'g', -1, 64)
		buf = append(buf, ',', label, '\n')
		w.Write(buf)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return nil
}
