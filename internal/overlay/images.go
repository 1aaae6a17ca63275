package overlay

import (
	"strings"

	"github.com/kargo-io/kargo/api/v1alpha1"
)

// ImageName is an image reference without tag or digest (a registry port
// stays).
func ImageName(ref string) string {
	name, _, _ := splitImage(ref)
	return name
}

func splitImage(ref string) (name, tag, digest string) {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref, digest = ref[:i], ref[i+1:]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref, tag = ref[:i], ref[i+1:]
	}
	return ref, tag, digest
}

// OverrideImage applies a Stack's spec.images to one image reference, with
// the semantics of kustomize's images transformer: an entry matches an
// image of its name; newName replaces the name; newTag and digest replace
// both the tag and the digest (both set: name:tag@digest). Entries apply
// in order, each to the result of the ones before. Catalog entries and
// hand-written Services go through this one function.
func OverrideImage(ref string, images []v1alpha1.Image) string {
	for _, img := range images {
		name, tag, digest := splitImage(ref)
		if name != img.Name {
			continue
		}
		if img.NewName != "" {
			name = img.NewName
		}
		if img.NewTag != "" || img.Digest != "" {
			tag, digest = img.NewTag, img.Digest
		}
		ref = name
		if tag != "" {
			ref += ":" + tag
		}
		if digest != "" {
			ref += "@" + digest
		}
	}
	return ref
}
