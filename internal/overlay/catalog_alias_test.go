package overlay

import (
	"slices"
	"testing"

	"github.com/kargo-io/kargo/api/v1alpha1"
)

// TestAliases checks that the former entry names still pick the renamed
// entries, that current names and unknown names resolve to themselves, that
// every alias points to an existing entry and shadows none, and that the
// listing shows them.
func TestAliases(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"k-vigicrues", "vigicrues"},
		{"k-hubeau-stations", "hubeau-stations"},
		{"k-hubeau-observations", "hubeau-observations"},
		{"k-teleray", "teleray"},
		{"k-openaq", "openaq"},
		{"k-openradiation", "openradiation"},
		{"k-metar", "metar"},
		{"k-taf", "taf"},
		{"k-meteoradar", "meteoradar"},
		{"k-centipede", "centipede"},
		{"weacast-arpege-world", "arpege-world-loader"},
		{"weacast-arpege-europe", "arpege-europe-loader"},
		{"weacast-arome-france", "arome-france-loader"},
		{"weacast-arome-france-high", "arome-france-high-loader"},
		{"weacast-gfs-world", "gfs-world-loader"},
		{"vigicrues", "vigicrues"},
		{"weacast", "weacast"},
		{"mongodb", "mongodb"},
		{"no-such-entry", "no-such-entry"},
	} {
		if got := Resolve(tc.name); got != tc.want {
			t.Errorf("Resolve(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	for alias, entry := range aliases {
		if isEntry(alias) {
			t.Errorf("alias %s shadows an entry of that name", alias)
		}
		if !isEntry(entry) {
			t.Errorf("alias %s: no entry %s", alias, entry)
		}
	}
	entries, err := Entries()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name == "vigicrues" {
			if !slices.Equal(e.Aliases, []string{"k-vigicrues"}) || e.Summary == "" {
				t.Errorf("vigicrues listed as %+v", e)
			}
			return
		}
	}
	t.Error("vigicrues not listed")
}

// TestAliasRender checks that a Stack picking an entry by its former name
// renders the entry, under the Service name the Stack gives, labelled with
// the entry's current name.
func TestAliasRender(t *testing.T) {
	for _, tc := range []struct{ service, catalog string }{
		{"k-vigicrues", ""},
		{"vigicrues", "k-vigicrues"},
		{"arpege", "weacast-arpege-world"},
	} {
		stack := stackOf(v1alpha1.CatalogService{Name: tc.service, Catalog: tc.catalog})
		out, err := Render(Input{Stack: stack, Variables: testVariables(t)})
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		if len(out.Services) != 1 || out.Services[0].Name != tc.service {
			t.Fatalf("%+v: rendered %+v", tc, out.Services)
		}
		picked := tc.catalog
		if picked == "" {
			picked = tc.service
		}
		if got := out.Services[0].Labels[CatalogLabel]; got != Resolve(picked) || got == picked {
			t.Errorf("%+v: catalog label %q", tc, got)
		}
	}
}
