package overlay

import (
	"slices"
	"strings"
	"testing"

	"github.com/kargo-io/kargo/api/v1alpha1"
)

// TestSplitConstraints checks the old tool's <SVC>_CONSTRAINTS reading:
// space-separated, spaces around operators allowed, empty is none.
func TestSplitConstraints(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"node.role==worker", []string{"node.role==worker"}},
		{"node.role==worker node.labels.thredds==true", []string{"node.role==worker", "node.labels.thredds==true"}},
		{" node.role == manager  node.labels.x!=y ", []string{"node.role==manager", "node.labels.x!=y"}},
		{"node.role ==worker node.labels.a== b", []string{"node.role==worker", "node.labels.a==b"}},
	} {
		if got := SplitConstraints(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("SplitConstraints(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	obj := map[string]any{"spec": map[string]any{"placement": map[string]any{"constraints": []any{
		"node.role==worker", "node.role==worker node.labels.k2==true", "",
	}}}}
	splitConstraints(obj)
	got := obj["spec"].(map[string]any)["placement"].(map[string]any)["constraints"]
	if want := []any{"node.role==worker", "node.labels.k2==true"}; !slices.Equal(got.([]any), want) {
		t.Errorf("constraints %v, want %v", got, want)
	}
}

// TestConstraintsVariable checks that an entry honours its old
// <SVC>_CONSTRAINTS: unset, the old .env.default value; set, it replaces
// that default and adds to the old file's own constraints.
func TestConstraintsVariable(t *testing.T) {
	for _, tc := range []struct {
		entry, value string
		want         []string
	}{
		{"thredds", "", []string{"node.role==worker", "node.labels.thredds==true"}},
		{"thredds", "node.labels.big==true", []string{"node.labels.big==true"}},
		{"k2", "node.labels.ssd==true", []string{"node.role==worker", "node.labels.k2==true", "node.labels.ssd==true"}},
		{"cadvisor", "", nil},
	} {
		values := map[string]string{"SUBDOMAIN": "kargo.example.org"}
		if tc.value != "" {
			values[constraintsVariable(tc.entry)] = tc.value
		}
		vars, err := NewVariables(Source{Origin: "test", Values: values})
		if err != nil {
			t.Fatal(err)
		}
		out, err := Render(Input{Stack: stackOf(catalogService(tc.entry)), Variables: vars})
		if err != nil {
			t.Fatalf("%s: %v", tc.entry, err)
		}
		var got []string
		if p := out.Services[0].Spec.Placement; p != nil {
			got = p.Constraints
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s with %q: constraints %q, want %q", tc.entry, tc.value, got, tc.want)
		}
	}
}

func constraintsVariable(entry string) string {
	return strings.ToUpper(strings.ReplaceAll(entry, "-", "_")) + "_CONSTRAINTS"
}

func catalogService(entry string) v1alpha1.CatalogService {
	return v1alpha1.CatalogService{Name: entry}
}
