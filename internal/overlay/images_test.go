package overlay

import (
	"testing"

	"github.com/kargo-io/kargo/api/v1alpha1"
)

func TestOverrideImage(t *testing.T) {
	const digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	cases := []struct {
		name, ref string
		images    []v1alpha1.Image
		want      string
	}{
		{"no entries", "mongo:4.4", nil, "mongo:4.4"},
		{"other image", "mongo:4.4", []v1alpha1.Image{{Name: "redis", NewTag: "7"}}, "mongo:4.4"},
		{"new tag", "mongo:4.4", []v1alpha1.Image{{Name: "mongo", NewTag: "6.0"}}, "mongo:6.0"},
		{"digest replaces the tag", "mongo:4.4", []v1alpha1.Image{{Name: "mongo", Digest: digest}}, "mongo@" + digest},
		{"tag and digest", "mongo:4.4", []v1alpha1.Image{{Name: "mongo", NewTag: "6.0", Digest: digest}}, "mongo:6.0@" + digest},
		{"new name keeps the tag", "mongo:4.4", []v1alpha1.Image{{Name: "mongo", NewName: "reg.example/mongo"}}, "reg.example/mongo:4.4"},
		{"registry port is not a tag", "127.0.0.1:5000/app", []v1alpha1.Image{{Name: "127.0.0.1:5000/app", NewTag: "1.0.1"}}, "127.0.0.1:5000/app:1.0.1"},
		{"digest over a digest", "127.0.0.1:5000/app:1.0.0@" + digest, []v1alpha1.Image{{Name: "127.0.0.1:5000/app", NewTag: "1.0.1", Digest: "sha256:2222222222222222222222222222222222222222222222222222222222222222"}},
			"127.0.0.1:5000/app:1.0.1@sha256:2222222222222222222222222222222222222222222222222222222222222222"},
		{"prefix is not a match", "mongo-express:1", []v1alpha1.Image{{Name: "mongo", NewTag: "6.0"}}, "mongo-express:1"},
		{"entries apply in order", "mongo:4.4", []v1alpha1.Image{{Name: "mongo", NewName: "reg/mongo"}, {Name: "reg/mongo", NewTag: "7"}}, "reg/mongo:7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := OverrideImage(tc.ref, tc.images); got != tc.want {
				t.Errorf("OverrideImage(%q) = %q, want %q", tc.ref, got, tc.want)
			}
		})
	}
}
