package pipeline

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// cases are testdata/<name>.yaml, each a list of Stages.
var cases = []string{"linear", "fan", "warehouses", "broken", "empty"}

func build(t *testing.T, name string) *Graph {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var list v1alpha1.StageList
	if err := yaml.UnmarshalStrict(data, &list); err != nil {
		t.Fatalf("%s.yaml: %v", name, err)
	}
	return Build(list.Items)
}

func TestText(t *testing.T) {
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := build(t, name).WriteText(&out); err != nil {
				t.Fatal(err)
			}
			testenv.Golden(t, name+".txt", out.Bytes(), *update)
		})
	}
}

// TestDOT compares the DOT of each case with its golden file, and has
// Graphviz's dot render the golden file: it must take it without an error
// or a warning.
func TestDOT(t *testing.T) {
	dot, err := exec.LookPath("dot")
	if err != nil {
		t.Fatal("dot not found: apt-get install graphviz (the DOT output is checked by rendering it)")
	}
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := build(t, name).WriteDOT(&out); err != nil {
				t.Fatal(err)
			}
			testenv.Golden(t, name+".dot", out.Bytes(), *update)
			var svg, stderr bytes.Buffer
			cmd := exec.Command(dot, "-Tsvg", filepath.Join("testdata", name+".dot.golden"))
			cmd.Stdout, cmd.Stderr = &svg, &stderr
			if err := cmd.Run(); err != nil || stderr.Len() > 0 {
				t.Fatalf("dot -Tsvg: %v: %s", err, stderr.String())
			}
			if !bytes.Contains(svg.Bytes(), []byte("<svg")) {
				t.Errorf("dot wrote no SVG:\n%s", svg.String())
			}
		})
	}
}
