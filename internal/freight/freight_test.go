package freight

import (
	"regexp"
	"testing"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

const (
	d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

func spec(origin string, images ...kargov1.FreightImage) kargov1.FreightSpec {
	return kargov1.FreightSpec{Origin: kargov1.FreightOrigin{Kind: kargov1.WarehouseKind, Name: origin}, Images: images}
}

func TestName(t *testing.T) {
	base := spec("wh", kargov1.FreightImage{RepoURL: "r/app", Tag: "1.0.0", Digest: d1}, kargov1.FreightImage{RepoURL: "r/db", Tag: "15", Digest: d2})
	name := Name(base)
	if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(name) {
		t.Fatalf("Name = %q, want 40 hex digits", name)
	}
	// Pinned: a new formula would rename every Freight (a Warehouse would
	// make its newest again under the new name).
	if want := "331320913e82093853c35ee6fc215300bafa0efc"; name != want {
		t.Errorf("Name = %s, want %s", name, want)
	}
	for _, tc := range []struct {
		name string
		spec kargov1.FreightSpec
		same bool
	}{
		{"images in another order", spec("wh", base.Images[1], base.Images[0]), true},
		{"re-tagged", spec("wh", kargov1.FreightImage{RepoURL: "r/app", Tag: "stable", Digest: d1}, base.Images[1]), true},
		{"origin kind defaulted", kargov1.FreightSpec{Origin: kargov1.FreightOrigin{Name: "wh"}, Images: base.Images}, true},
		{"another digest", spec("wh", kargov1.FreightImage{RepoURL: "r/app", Tag: "1.0.0", Digest: d2}, base.Images[1]), false},
		{"another origin", spec("wh2", base.Images...), false},
		{"one image fewer", spec("wh", base.Images[0]), false},
		{"digests swapped between repositories", spec("wh", kargov1.FreightImage{RepoURL: "r/app", Digest: d2}, kargov1.FreightImage{RepoURL: "r/db", Digest: d1}), false},
	} {
		if got := Name(tc.spec); (got == name) != tc.same {
			t.Errorf("%s: Name = %s, base %s; want same: %t", tc.name, got, name, tc.same)
		}
	}
}

func TestAlias(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	none := func(string) bool { return false }
	name := Name(spec("wh", kargov1.FreightImage{RepoURL: "r/app", Digest: d1}))
	alias := Alias(name, none)
	if alias != Alias(name, none) || !valid.MatchString(alias) || len(alias) > 63 {
		t.Fatalf("Alias = %q: want a stable, valid name", alias)
	}
	for _, tc := range []struct {
		name  string
		taken []string
		want  string
	}{
		{"free", nil, alias},
		{"taken", []string{alias}, alias + "-2"},
		{"taken twice", []string{alias, alias + "-2"}, alias + "-3"},
		{"a suffix taken only", []string{alias + "-2"}, alias},
	} {
		taken := map[string]bool{}
		for _, a := range tc.taken {
			taken[a] = true
		}
		if got := Alias(name, func(a string) bool { return taken[a] }); got != tc.want {
			t.Errorf("%s: Alias = %q, want %q", tc.name, got, tc.want)
		}
	}
	// Different names mostly get different aliases.
	seen := map[string]bool{}
	for i := range 20 {
		seen[Alias(Name(spec("wh", kargov1.FreightImage{RepoURL: "r/app", Digest: "sha256:" + string(rune('a'+i))})), none)] = true
	}
	if len(seen) < 15 {
		t.Errorf("20 names gave %d aliases", len(seen))
	}
}
