package registry

import (
	"errors"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

func TestSelectTags(t *testing.T) {
	tags := []string{"1.0.0", "v1.2.0", "1.10.0", "1.9.3", "2.0.0", "2.1.0-rc.1", "1.2", "20261201", "latest", "1.2.0", "0.9.0"}
	for _, tc := range []struct {
		name string
		sub  kargov1.ImageSubscription
		in   []string
		want []string
		// invalid is the field an *InvalidError names.
		invalid string
	}{
		{name: "semver is the default; not X.Y, dates, words or prereleases",
			in: tags, want: []string{"2.0.0", "1.10.0", "1.9.3", "v1.2.0", "1.2.0", "1.0.0", "0.9.0"}},
		{name: "semver constraint",
			sub: kargov1.ImageSubscription{ImageSelectionStrategy: kargov1.SemVerStrategy, SemverConstraint: "^1.0"},
			in:  tags, want: []string{"1.10.0", "1.9.3", "v1.2.0", "1.2.0", "1.0.0"}},
		{name: "a range",
			sub: kargov1.ImageSubscription{SemverConstraint: ">=1.2, <1.10"},
			in:  tags, want: []string{"1.9.3", "v1.2.0", "1.2.0"}},
		{name: "prereleases when the constraint names one",
			sub: kargov1.ImageSubscription{SemverConstraint: ">=2.0.0-0"},
			in:  tags, want: []string{"2.1.0-rc.1", "2.0.0"}},
		{name: "limit",
			sub: kargov1.ImageSubscription{DiscoveryLimit: 2},
			in:  tags, want: []string{"2.0.0", "1.10.0"}},
		{name: "allowTags and ignoreTags",
			sub: kargov1.ImageSubscription{AllowTags: `^1\.`, IgnoreTags: `^1\.9\.`},
			in:  tags, want: []string{"1.10.0", "1.2.0", "1.0.0"}},
		{name: "lexical, greatest first",
			sub: kargov1.ImageSubscription{ImageSelectionStrategy: kargov1.LexicalStrategy, AllowTags: `^\d{8}-\d{4}$`},
			in:  []string{"20261130-2359", "20261201-0900", "latest", "20261201-1200"}, want: []string{"20261201-1200", "20261201-0900", "20261130-2359"}},
		{name: "newest build pre-order: digit runs as numbers",
			sub: kargov1.ImageSubscription{ImageSelectionStrategy: kargov1.NewestBuildStrategy, DiscoveryLimit: 3},
			in:  []string{"build-9", "build-10", "build-100", "build-11", "build-2"}, want: []string{"build-100", "build-11", "build-10"}},
		{name: "digest follows one tag: no selection",
			sub: kargov1.ImageSubscription{ImageSelectionStrategy: kargov1.DigestStrategy, Tag: "latest"},
			in:  tags, want: nil},
		{name: "nothing matches",
			sub: kargov1.ImageSubscription{SemverConstraint: "^3"},
			in:  tags, want: []string{}},
		{name: "bad allowTags",
			sub: kargov1.ImageSubscription{AllowTags: `^1\.(`}, in: tags, invalid: "allowTags"},
		{name: "bad ignoreTags",
			sub: kargov1.ImageSubscription{IgnoreTags: `[`}, in: tags, invalid: "ignoreTags"},
		{name: "bad constraint",
			sub: kargov1.ImageSubscription{SemverConstraint: "^one"}, in: tags, invalid: "semverConstraint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SelectTags(tc.sub, slices.Clone(tc.in))
			if tc.invalid != "" {
				var inv *InvalidError
				if !errors.As(err, &inv) || inv.Field != tc.invalid {
					t.Fatalf("want an InvalidError of %s, got %v", tc.invalid, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNaturalCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"build-9", "build-10", -1},
		{"1.10", "1.9", 1},
		{"a007", "a7", 0},
		{"abc", "abd", -1},
		{"abc", "ab", 1},
		{"", "", 0},
		{"9", "a", -1},
	} {
		if got := naturalCompare(tc.a, tc.b); got != tc.want {
			t.Errorf("naturalCompare(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestSortByBuild(t *testing.T) {
	at := func(h int) *metav1.Time { return &metav1.Time{Time: time.Date(2026, 12, 1, h, 0, 0, 0, time.UTC)} }
	images := []kargov1.DiscoveredImage{
		{Tag: "unknown"}, {Tag: "old", CreatedAt: at(1)}, {Tag: "new", CreatedAt: at(3)},
		{Tag: "b-tie", CreatedAt: at(2)}, {Tag: "a-tie", CreatedAt: at(2)},
	}
	SortByBuild(images)
	var got []string
	for _, i := range images {
		got = append(got, i.Tag)
	}
	if want := []string{"new", "b-tie", "a-tie", "old", "unknown"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
