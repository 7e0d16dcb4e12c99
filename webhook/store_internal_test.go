package webhook

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStoreDedupExpiresAndPrunes(t *testing.T) {
	st, err := openStore(t.TempDir(), time.Hour)
	require.NoError(t, err)
	defer st.close()
	now := time.Unix(1_700_000_000, 0)
	it := item{dedupKey: []byte("fp|1|firing"), value: []byte(`{}`)}
	outs, err := st.commit([][]item{{it}, {it}}, 10, now)
	require.NoError(t, err)
	require.Equal(t, []outcome{{accepted: 1}, {duplicate: 1}}, outs, "the same alert twice in one group commit")
	outs, err = st.commit([][]item{{it}}, 10, now.Add(59*time.Minute))
	require.NoError(t, err)
	require.Equal(t, 1, outs[0].duplicate)

	n, err := st.prune(now.Add(30*time.Minute), 100)
	require.NoError(t, err)
	require.Zero(t, n, "nothing expired yet")
	n, err = st.prune(now.Add(2*time.Hour), 100)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	outs, err = st.commit([][]item{{it}}, 10, now.Add(2*time.Hour))
	require.NoError(t, err)
	require.Equal(t, 1, outs[0].accepted, "after the TTL the key is new again")
	require.EqualValues(t, 2, st.length.Load())
}
