package overlay

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kargo-io/kargo/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func testVariables(t *testing.T) *Variables {
	t.Helper()
	data, err := os.ReadFile("testdata/variables.env")
	if err != nil {
		t.Fatal(err)
	}
	dotenv := string(data)
	vars, err := NewVariables(Source{Origin: "testdata/variables.env", Dotenv: &dotenv})
	if err != nil {
		t.Fatal(err)
	}
	return vars
}

func stackOf(services ...v1alpha1.CatalogService) *v1alpha1.Stack {
	return &v1alpha1.Stack{
		ObjectMeta: metav1.ObjectMeta{Name: "geo", Namespace: "maps"},
		Spec:       v1alpha1.StackSpec{EnvironmentRef: v1alpha1.LocalObjectReference{Name: "local"}, Services: services},
	}
}

// golden compares got with testdata/<name>.golden, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	file := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/overlay -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", file, got, want)
	}
}

func printOutput(t *testing.T, out *Output) []byte {
	t.Helper()
	manifests, err := Manifests(out.Services)
	if err != nil {
		t.Fatal(err)
	}
	b := strings.Builder{}
	b.Write(manifests)
	for _, name := range sortedKeys(out.Configs) {
		b.WriteString("--- # config " + name + "\n")
		b.Write(out.Configs[name])
		if !strings.HasSuffix(string(out.Configs[name]), "\n") {
			b.WriteString("\n")
		}
	}
	return []byte(b.String())
}

// TestCatalogEntries renders each catalog entry alone with the default of
// every variable it has one for, and compares with its golden file.
func TestCatalogEntries(t *testing.T) {
	entries, err := Entries()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 35 {
		t.Errorf("the catalog has %d entries, want at least 35", len(entries))
	}
	vars := testVariables(t)
	for _, e := range entries {
		t.Run(e.Name, func(t *testing.T) {
			if e.Summary == "" {
				t.Errorf("service.yaml of %s has no header comment", e.Name)
			}
			out, err := Render(Input{Stack: stackOf(v1alpha1.CatalogService{Name: e.Name}), Variables: vars})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Services) != 1 || out.Services[0].Name != e.Name {
				t.Fatalf("rendered %d services, want %s alone", len(out.Services), e.Name)
			}
			golden(t, "catalog/"+e.Name, printOutput(t, out))
		})
	}
}
