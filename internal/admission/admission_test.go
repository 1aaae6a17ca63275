package admission

import (
	"reflect"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

func TestChangedApprovals(t *testing.T) {
	freight := func(approved ...string) *kargov1.Freight {
		f := &kargov1.Freight{}
		for _, a := range approved {
			stage, by, _ := strings.Cut(a, "@")
			f.Status.ApprovedFor = append(f.Status.ApprovedFor, kargov1.FreightStageRecord{Stage: stage, By: by})
		}
		f.Status.VerifiedIn = []kargov1.FreightStageRecord{{Stage: "test"}}
		return f
	}
	cases := []struct {
		name     string
		old, new *kargov1.Freight
		want     []string
	}{
		{"none before, none after", freight(), freight(), nil},
		{"first approval", freight(), freight("prod@alice"), []string{"prod@alice"}},
		{"one more", freight("prod@alice"), freight("prod@alice", "staging"), []string{"staging@"}},
		{"two at once, in order", freight(), freight("staging", "prod"), []string{"staging@", "prod@"}},
		{"withdrawn", freight("prod"), freight(), nil},
		{"replaced", freight("prod"), freight("staging"), []string{"staging@"}},
		{"unchanged", freight("prod@alice"), freight("prod@alice"), nil},
		{"signed again", freight("prod@alice"), freight("prod@bob"), []string{"prod@bob"}},
		{"signature removed", freight("prod@alice"), freight("prod"), []string{"prod@"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range ChangedApprovals(tc.old, tc.new) {
				got = append(got, r.Stage+"@"+r.By)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ChangedApprovals = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAddedVerifications(t *testing.T) {
	freight := func(verified ...string) *kargov1.Freight {
		f := &kargov1.Freight{}
		for _, s := range verified {
			f.Status.VerifiedIn = append(f.Status.VerifiedIn, kargov1.FreightStageRecord{Stage: s})
		}
		f.Status.ApprovedFor = []kargov1.FreightStageRecord{{Stage: "prod"}}
		return f
	}
	cases := []struct {
		name     string
		old, new *kargov1.Freight
		want     []string
	}{
		{"none", freight(), freight(), nil},
		{"first", freight(), freight("test"), []string{"test"}},
		{"one more", freight("test"), freight("test", "staging"), []string{"staging"}},
		{"withdrawn", freight("test"), freight(), nil},
		{"unchanged", freight("test", "staging"), freight("test", "staging"), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := AddedVerifications(tc.old, tc.new); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("AddedVerifications = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPromoteReview(t *testing.T) {
	cases := []struct {
		name string
		user authenticationv1.UserInfo
		want authorizationv1.SubjectAccessReviewSpec
	}{
		{"user with groups, uid and extra",
			authenticationv1.UserInfo{Username: "alice", UID: "u-1", Groups: []string{"devs", "system:authenticated"},
				Extra: map[string]authenticationv1.ExtraValue{"scopes": {"a", "b"}}},
			authorizationv1.SubjectAccessReviewSpec{User: "alice", UID: "u-1", Groups: []string{"devs", "system:authenticated"},
				Extra: map[string]authorizationv1.ExtraValue{"scopes": {"a", "b"}}}},
		{"service account without extra",
			authenticationv1.UserInfo{Username: "system:serviceaccount:kargo-system:kargo-controller-manager"},
			authorizationv1.SubjectAccessReviewSpec{User: "system:serviceaccount:kargo-system:kargo-controller-manager"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.ResourceAttributes = &authorizationv1.ResourceAttributes{Namespace: "shop", Verb: "promote", Group: "swarm.kargo.io", Resource: "stages", Name: "prod"}
			if got := PromoteReview(tc.user, "shop", "prod").Spec; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("PromoteReview =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}
