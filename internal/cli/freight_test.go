package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// TestFreightTable: the table of kargo freight, with and without the
// CURRENT column (golden files).
func TestFreightTable(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	digest := func(d string) string { return "sha256:" + strings.Repeat(d, 64) }
	freights := []kargov1.Freight{{
		ObjectMeta: metav1.ObjectMeta{Name: "9b8e7d6c5b4a39281706f5e4d3c2b1a098765432", CreationTimestamp: metav1.NewTime(now.Add(-4 * time.Minute))},
		Alias:      "brave-heron",
		Spec: kargov1.FreightSpec{Images: []kargov1.FreightImage{
			{RepoURL: "registry.example.org/shop/web", Tag: "1.0.2", Digest: digest("b")},
			{RepoURL: "registry.example.org/shop/worker", Tag: "1.0.2", Digest: digest("c")},
		}},
		Status: kargov1.FreightStatus{ApprovedFor: []kargov1.FreightStageRecord{{Stage: "prod", By: "alice"}}},
	}, {
		ObjectMeta: metav1.ObjectMeta{Name: "3f5a9c0e1d2b4a6978c1e0f2a3b4c5d6e7f80912", CreationTimestamp: metav1.NewTime(now.Add(-50 * time.Hour))},
		Alias:      "sleepy-otter",
		Spec: kargov1.FreightSpec{Images: []kargov1.FreightImage{
			{RepoURL: "registry.example.org/shop/web", Tag: "1.0.1", Digest: digest("a")},
			{RepoURL: "registry.example.org/shop/worker", Digest: digest("d")}, // by digest only
		}},
		Status: kargov1.FreightStatus{VerifiedIn: []kargov1.FreightStageRecord{{Stage: "test"}, {Stage: "prod"}}},
	}, {
		// made by hand: no alias, a name of its own
		ObjectMeta: metav1.ObjectMeta{Name: "hotfix-1", CreationTimestamp: metav1.NewTime(now.Add(-90 * 24 * time.Hour))},
		Spec:       kargov1.FreightSpec{Images: []kargov1.FreightImage{{RepoURL: "registry.example.org/shop/web", Tag: "0.9.9", Digest: digest("e")}}},
	}}
	for _, tc := range []struct {
		name        string
		markCurrent bool
	}{{"freight", false}, {"freight-stage", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := writeFreightTable(&out, freights, tc.markCurrent, freights[1].Name, now); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, out.Bytes())
		})
	}
}
