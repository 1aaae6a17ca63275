package admission

import (
	"reflect"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

func TestAddedApprovals(t *testing.T) {
	freight := func(approved ...string) *kargov1.Freight {
		f := &kargov1.Freight{}
		for _, s := range approved {
			f.Status.ApprovedFor = append(f.Status.ApprovedFor, kargov1.FreightStageRecord{Stage: s})
		}
		f.Status.VerifiedIn = []kargov1.FreightStageRecord{{Stage: "test"}}
		return f
	}
	cases := []struct {
		name       string
		old, new   *kargov1.Freight
		wantStages []string
	}{
		{"none before, none after", freight(), freight(), nil},
		{"first approval", freight(), freight("prod"), []string{"prod"}},
		{"one more", freight("prod"), freight("prod", "staging"), []string{"staging"}},
		{"two at once, in order", freight(), freight("staging", "prod"), []string{"staging", "prod"}},
		{"withdrawn", freight("prod"), freight(), nil},
		{"replaced", freight("prod"), freight("staging"), []string{"staging"}},
		{"unchanged", freight("prod"), freight("prod"), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := AddedApprovals(tc.old, tc.new); !reflect.DeepEqual(got, tc.wantStages) {
				t.Errorf("AddedApprovals = %q, want %q", got, tc.wantStages)
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
