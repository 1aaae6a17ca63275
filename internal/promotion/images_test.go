package promotion

import (
	"reflect"
	"testing"

	"github.com/kargo-io/kargo/api/v1alpha1"
)

func TestStackImages(t *testing.T) {
	const (
		d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
		d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	)
	freight := &v1alpha1.Freight{Spec: v1alpha1.FreightSpec{Images: []v1alpha1.FreightImage{
		{RepoURL: "reg/app", Tag: "1.0.1", Digest: d1},
		{RepoURL: "reg/worker", Tag: "2.0.0", Digest: d2},
	}}}
	cases := []struct {
		name    string
		current []v1alpha1.Image
		used    []string
		want    []v1alpha1.Image
		wantSet []string
	}{
		{"adds entries for the repositories used", nil, []string{"reg/app", "redis"},
			[]v1alpha1.Image{{Name: "reg/app", NewTag: "1.0.1", Digest: d1}}, []string{"reg/app"}},
		{"replaces the digest of an entry, keeps the others in order",
			[]v1alpha1.Image{{Name: "redis", NewTag: "7"}, {Name: "reg/app", Digest: d2}}, []string{"reg/app", "redis"},
			[]v1alpha1.Image{{Name: "redis", NewTag: "7"}, {Name: "reg/app", NewTag: "1.0.1", Digest: d1}}, []string{"reg/app"}},
		{"an entry renaming to a Freight repository gets its digest",
			[]v1alpha1.Image{{Name: "app", NewName: "reg/app"}}, []string{"app"},
			[]v1alpha1.Image{{Name: "app", NewName: "reg/app", NewTag: "1.0.1", Digest: d1}}, []string{"reg/app"}},
		{"rendered images show the new name", []v1alpha1.Image{{Name: "app", NewName: "reg/app"}}, []string{"reg/app"},
			[]v1alpha1.Image{{Name: "app", NewName: "reg/app", NewTag: "1.0.1", Digest: d1}}, []string{"reg/app"}},
		{"both repositories", nil, []string{"reg/app", "reg/worker"},
			[]v1alpha1.Image{{Name: "reg/app", NewTag: "1.0.1", Digest: d1}, {Name: "reg/worker", NewTag: "2.0.0", Digest: d2}}, []string{"reg/app", "reg/worker"}},
		{"nothing used", []v1alpha1.Image{{Name: "redis", NewTag: "7"}}, []string{"redis"},
			[]v1alpha1.Image{{Name: "redis", NewTag: "7"}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, set := StackImages(tc.current, tc.used, freight)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("images = %+v, want %+v", got, tc.want)
			}
			if !reflect.DeepEqual(set, tc.wantSet) {
				t.Errorf("set = %v, want %v", set, tc.wantSet)
			}
		})
	}
}

func TestRepositories(t *testing.T) {
	got := Repositories([]string{"reg/app:1@sha256:1111111111111111111111111111111111111111111111111111111111111111", "127.0.0.1:5000/x:2", "reg/app:3", "redis"})
	want := []string{"127.0.0.1:5000/x", "redis", "reg/app"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Repositories = %v, want %v", got, want)
	}
}
