package rcaeval

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anteater-dev/anteater/rca"
)

func TestServices(t *testing.T) {
	cols := []string{
		"carts_cpu", "carts-db_cpu", "orders_cpu", "front-end_cpu",
		"carts_mem", "carts-db_mem", "orders_mem", "front-end_mem",
		"carts_lat_50", "orders_lat_50", "carts_lat_99", "orders_lat_99",
	}
	got := Services(cols)
	require.Equal(t, "carts", got["carts_lat_50"])
	require.Equal(t, "orders", got["orders_lat_99"])
	require.Equal(t, "carts-db", got["carts-db_cpu"])
	require.Equal(t, "front-end", got["front-end_mem"])

	// Service names with '_' and a prefix every column shares.
	var ts []string
	for _, s := range []string{"ts_order_service", "ts_user_service", "ts_auth_service"} {
		for _, m := range []string{"cpu", "mem", "latency_p99"} {
			ts = append(ts, s+"_"+m)
		}
	}
	got = Services(ts)
	require.Equal(t, "ts_order_service", got["ts_order_service_cpu"])
	require.Equal(t, "ts_auth_service", got["ts_auth_service_latency_p99"])
	require.Equal(t, "plain", Services([]string{"plain"})["plain"])
}

// writeCase writes one case in RCAEval's layout: services a..d, metrics
// cpu, mem and lat_50; the root cause's metric jumps after injection.
func writeCase(t *testing.T, dir, id, cause, metric string, seed int) int64 {
	services := []string{"a", "b-db", "c", "d"}
	metrics := []string{"cpu", "mem", "lat_50"}
	var header []string
	for _, m := range metrics {
		for _, s := range services {
			header = append(header, s+"_"+m)
		}
	}
	write := func(name string, start int64, anomalous bool) {
		var b bytes.Buffer
		fmt.Fprintf(&b, "time,%s\n", strings.Join(header, ","))
		for i := range 120 {
			row := []string{fmt.Sprint(start + int64(i))}
			for j, col := range header {
				v := 10 + math.Sin(float64(i*(j+1)+seed))
				if anomalous && col == cause+"_"+metric {
					v += 50
				}
				if i == 7 && j == 0 {
					row = append(row, "") // a missing cell
					continue
				}
				row = append(row, fmt.Sprint(v))
			}
			b.WriteString(strings.Join(row, ",") + "\n")
		}
		var gz bytes.Buffer
		w := gzip.NewWriter(&gz)
		_, err := w.Write(b.Bytes())
		require.NoError(t, err)
		require.NoError(t, w.Close())
		p := filepath.Join(dir, id, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, gz.Bytes(), 0o600))
	}
	write("normal.csv.gz", 1000, false)
	inject := int64(5000)
	write("anomalous.csv.gz", inject, true)
	return inject
}

func TestEvaluate(t *testing.T) {
	dir := t.TempDir()
	var labels strings.Builder
	labels.WriteString("case_id,root_cause_service,fault_type,inject_time,n_metrics\n")
	for i, c := range []struct{ svc, fault, metric string }{
		{"a", "cpu", "cpu"}, {"b-db", "cpu", "cpu"}, {"c", "mem", "mem"}, {"d", "delay", "lat_50"},
	} {
		id := fmt.Sprintf("%s-%s/1", c.svc, c.fault)
		inject := writeCase(t, dir, id, c.svc, c.metric, i)
		fmt.Fprintf(&labels, "%s,%s,%s,%d,12\n", id, c.svc, c.fault, inject)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "labels.csv"), []byte(labels.String()), 0o600))

	for _, m := range rca.Methods {
		t.Run(m, func(t *testing.T) {
			e, err := rca.NewEngine(rca.Options{Methods: []string{m}})
			require.NoError(t, err)
			var progress bytes.Buffer
			rep, err := Evaluate(context.Background(), dir, e, []string{m}, &progress)
			require.NoError(t, err)
			require.Len(t, rep.Cases, 4)
			require.Equal(t, [TopK]float64{1, 1, 1, 1, 1}, rep.Overall.AC)
			require.InDelta(t, 1, rep.Overall.Avg5, 1e-12)
			require.Equal(t, []string{"cpu", "delay", "mem"}, []string{rep.Faults[0].Group, rep.Faults[1].Group, rep.Faults[2].Group})
			require.Equal(t, 2, rep.Faults[0].Cases)
			require.Contains(t, progress.String(), "[4/4] d-delay/1: root cause d ranked 1")
			for _, c := range rep.Cases {
				require.Equal(t, 12, c.Series)
				require.Len(t, c.Top, 4)
			}
			var text bytes.Buffer
			require.NoError(t, rep.WriteText(&text))
			require.Contains(t, text.String(), "overall")
			require.Contains(t, text.String(), "Avg@5")
			raw, err := json.Marshal(rep)
			require.NoError(t, err)
			require.Contains(t, string(raw), `"avg5":1`)
		})
	}
}

func TestSummarise(t *testing.T) {
	s := summarise("x", []CaseResult{{Rank: 1}, {Rank: 3}, {Rank: 0}, {Rank: 6}})
	require.Equal(t, [TopK]float64{0.25, 0.25, 0.5, 0.5, 0.5}, s.AC)
	require.InDelta(t, 0.4, s.Avg5, 1e-12)
}

func TestEvaluateErrors(t *testing.T) {
	e, err := rca.NewEngine(rca.Options{})
	require.NoError(t, err)
	ctx := context.Background()
	dir := t.TempDir()
	_, err = Evaluate(ctx, dir, e, nil, nil)
	require.ErrorIs(t, err, os.ErrNotExist)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "labels.csv"), []byte("case_id,fault_type\nx,cpu\n"), 0o600))
	_, err = Evaluate(ctx, dir, e, nil, nil)
	require.ErrorContains(t, err, `no "root_cause_service" column`)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "labels.csv"), []byte("case_id,root_cause_service,fault_type,inject_time\nx/1,a,cpu,10\n"), 0o600))
	_, err = Evaluate(ctx, dir, e, nil, nil)
	require.ErrorContains(t, err, "case x/1")
	require.ErrorIs(t, err, os.ErrNotExist)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "labels.csv"), []byte("case_id,root_cause_service,fault_type,inject_time\nx/1,a,cpu,soon\n"), 0o600))
	_, err = Evaluate(ctx, dir, e, nil, nil)
	require.ErrorContains(t, err, "inject_time")
}
