package promotion

import (
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kargo-io/kargo/api/v1alpha1"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func stage(name string, reqs ...v1alpha1.FreightRequest) *v1alpha1.Stage {
	return &v1alpha1.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Spec:       v1alpha1.StageSpec{RequestedFreight: reqs},
	}
}

func direct(warehouse string) v1alpha1.FreightRequest {
	return v1alpha1.FreightRequest{Origin: v1alpha1.FreightOrigin{Name: warehouse}, Sources: v1alpha1.FreightSources{Direct: true}}
}

func upstream(warehouse string, stages ...string) v1alpha1.FreightRequest {
	return v1alpha1.FreightRequest{Origin: v1alpha1.FreightOrigin{Kind: "Warehouse", Name: warehouse}, Sources: v1alpha1.FreightSources{Stages: stages}}
}

type freightOpt func(*v1alpha1.Freight)

func verifiedIn(s string) freightOpt {
	return func(f *v1alpha1.Freight) {
		f.Status.VerifiedIn = append(f.Status.VerifiedIn, v1alpha1.FreightStageRecord{Stage: s})
	}
}

func approvedFor(s string) freightOpt {
	return func(f *v1alpha1.Freight) {
		f.Status.ApprovedFor = append(f.Status.ApprovedFor, v1alpha1.FreightStageRecord{Stage: s})
	}
}

func createdAt(d time.Duration) freightOpt {
	return func(f *v1alpha1.Freight) { f.CreationTimestamp = metav1.NewTime(t0.Add(d)) }
}

func inNamespace(ns string) freightOpt { return func(f *v1alpha1.Freight) { f.Namespace = ns } }

func freight(name, warehouse string, opts ...freightOpt) v1alpha1.Freight {
	f := v1alpha1.Freight{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", CreationTimestamp: metav1.NewTime(t0)},
		Spec:       v1alpha1.FreightSpec{Origin: v1alpha1.FreightOrigin{Kind: "Warehouse", Name: warehouse}},
	}
	for _, o := range opts {
		o(&f)
	}
	return f
}

func TestEligible(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stage   *v1alpha1.Stage
		freight v1alpha1.Freight
		err     string // "" when eligible
	}{
		{"direct", stage("test", direct("app")), freight("f1", "app"), ""},
		{"direct, origin kind defaulted on one side", stage("test", direct("app")), freight("f1", "app", func(f *v1alpha1.Freight) { f.Spec.Origin.Kind = "" }), ""},
		{"other warehouse", stage("test", direct("app")), freight("f1", "db"),
			"freight f1 comes from Warehouse db, which stage test does not request (spec.requestedFreight)"},
		{"verified upstream", stage("prod", upstream("app", "test")), freight("f1", "app", verifiedIn("test")), ""},
		{"verified in the second upstream", stage("prod", upstream("app", "test", "qa")), freight("f1", "app", verifiedIn("qa")), ""},
		{"verified in the stage itself only", stage("prod", upstream("app", "test")), freight("f1", "app", verifiedIn("prod")),
			"freight f1 is not verified in test (upstream of stage prod) nor approved for stage prod"},
		{"not verified, three upstreams", stage("prod", upstream("app", "a", "b", "c")), freight("f1", "app"),
			"freight f1 is not verified in a, b or c (upstream of stage prod) nor approved for stage prod"},
		{"approved", stage("prod", upstream("app", "test")), freight("f1", "app", approvedFor("prod")), ""},
		{"approved for another stage", stage("prod", upstream("app", "test")), freight("f1", "app", approvedFor("qa")),
			"freight f1 is not verified in test (upstream of stage prod) nor approved for stage prod"},
		{"approved but origin not requested", stage("prod", upstream("app", "test")), freight("f1", "db", approvedFor("prod")),
			"freight f1 comes from Warehouse db, which stage prod does not request (spec.requestedFreight)"},
		{"second request", stage("prod", direct("db"), upstream("app", "test")), freight("f1", "app", verifiedIn("test")), ""},
		{"other namespace", stage("test", direct("app")), freight("f1", "app", inNamespace("other")),
			"freight f1 is in namespace other, stage test in namespace ns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Eligible(tc.stage, &tc.freight)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("not eligible: %v", err)
			case tc.err != "" && (err == nil || err.Error() != tc.err):
				t.Fatalf("error %v, want %q", err, tc.err)
			}
		})
	}
}

func TestNewest(t *testing.T) {
	prod := stage("prod", upstream("app", "test"))
	for _, tc := range []struct {
		name     string
		stage    *v1alpha1.Stage
		freights []v1alpha1.Freight
		want     string // "" for ErrNoEligibleFreight
	}{
		{"none", prod, nil, ""},
		{"none eligible", prod, []v1alpha1.Freight{freight("f1", "app"), freight("f2", "db", verifiedIn("test"))}, ""},
		{"latest created", stage("test", direct("app")), []v1alpha1.Freight{
			freight("a", "app", createdAt(time.Minute)), freight("b", "app", createdAt(2*time.Minute)), freight("c", "app"),
		}, "b"},
		{"latest eligible", prod, []v1alpha1.Freight{
			freight("old", "app", verifiedIn("test")),
			freight("approved", "app", approvedFor("prod"), createdAt(time.Minute)),
			freight("new", "app", createdAt(time.Hour)), // not verified yet
		}, "approved"},
		{"same second: by name", stage("test", direct("app")), []v1alpha1.Freight{
			freight("b", "app"), freight("c", "app"), freight("a", "app"),
		}, "c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Newest(tc.stage, tc.freights)
			if tc.want == "" {
				if !errors.Is(err, ErrNoEligibleFreight) || !strings.Contains(err.Error(), "stage "+tc.stage.Name) {
					t.Fatalf("got %v, %v; want ErrNoEligibleFreight naming the stage", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != tc.want {
				t.Errorf("newest %s, want %s", got.Name, tc.want)
			}
		})
	}
}

func TestFreightName(t *testing.T) {
	for _, tc := range []struct{ name, alias, want string }{
		{"3f5a9c0e1d2b4a6978c1e0f2a3b4c5d6e7f80912", "sleepy-otter", "sleepy-otter"},
		{"3f5a9c0e1d2b4a6978c1e0f2a3b4c5d6e7f80912", "", "3f5a9c0"},
		{"abcdef0123", "", "abcdef0123"},                     // short: whole
		{"release-2026-01-02-a", "", "release-2026-01-02-a"}, // not a hash: whole
		{"3f5a9c0e1d2b4a6978c1e0f2a3b4c5d6e7f8091z", "", "3f5a9c0e1d2b4a6978c1e0f2a3b4c5d6e7f8091z"},
	} {
		if got := FreightName(tc.name, tc.alias); got != tc.want {
			t.Errorf("FreightName(%q, %q) = %q, want %q", tc.name, tc.alias, got, tc.want)
		}
	}
}
