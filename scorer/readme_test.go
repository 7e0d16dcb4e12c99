package scorer

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var updateReadme = flag.Bool("update-readme", false, "rewrite the README's model reference from Models()")

// readmeModels renders the README's model reference from the registry.
func readmeModels() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Default model: `%s`. The descriptions and parameters below are generated from `scorer.Models()`\n", DefaultModel)
	b.WriteString("(`go test ./scorer -run TestReadmeModels -update-readme` rewrites them).\n")
	for _, m := range Models() {
		fmt.Fprintf(&b, "\n#### `%s`\n\n%s\n\nWarm-up: %s State: %s\n", m.Name, m.Description, m.Warmup, m.State)
		if len(m.Params) > 0 {
			b.WriteString("\n| parameter | default | meaning |\n| --- | --- | --- |\n")
			for _, p := range m.Params {
				fmt.Fprintf(&b, "| `%s` | `%s` | %s |\n", p.Name, p.Default, p.Help)
			}
		}
	}
	return b.String()
}

// TestReadmeModels keeps the README's model reference what the registry
// says, so a model's documented cost or behaviour cannot drift from its
// code's doc.
func TestReadmeModels(t *testing.T) {
	const path = "../README.md"
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	readme := string(raw)
	start := strings.Index(readme, "Default model: `")
	require.GreaterOrEqual(t, start, 0, "the README's model reference starts with \"Default model:\"")
	end := strings.Index(readme[start:], "\n### ")
	require.Greater(t, end, 0, "the model reference ends at the next ### heading")
	end += start + 1
	want := readmeModels() + "\n"
	if *updateReadme {
		require.NoError(t, os.WriteFile(path, []byte(readme[:start]+want+readme[end:]), 0o644))
		return
	}
	require.Equal(t, want, readme[start:end], "README's model reference is stale: go test ./scorer -run TestReadmeModels -update-readme")
}
