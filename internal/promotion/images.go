package promotion

import (
	"slices"

	"github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/overlay"
)

// Repositories are the image repositories a set of images use (without
// tag or digest), sorted and unique.
func Repositories(images []string) []string {
	var repos []string
	for _, img := range images {
		repos = append(repos, overlay.ImageName(img))
	}
	slices.Sort(repos)
	return slices.Compact(repos)
}

// StackImages returns a Stack's spec.images with the Freight's images set
// on the repositories the Stack uses (by digest, with the tag kept for
// people), and the repositories set. used are the repositories of the
// Stack's Services; an entry that renames an image (newName) to a
// Freight's repository gets the Freight's digest. Entries for other
// repositories stay as they were, in their order.
func StackImages(current []v1alpha1.Image, used []string, freight *v1alpha1.Freight) ([]v1alpha1.Image, []string) {
	images := slices.Clone(current)
	var set []string
	for _, img := range freight.Spec.Images {
		i := slices.IndexFunc(images, func(o v1alpha1.Image) bool {
			return o.NewName == img.RepoURL && (slices.Contains(used, o.Name) || slices.Contains(used, o.NewName))
		})
		if i < 0 && slices.Contains(used, img.RepoURL) {
			i = slices.IndexFunc(images, func(o v1alpha1.Image) bool { return o.Name == img.RepoURL && o.NewName == "" })
			if i < 0 {
				images = append(images, v1alpha1.Image{Name: img.RepoURL})
				i = len(images) - 1
			}
		}
		if i < 0 {
			continue
		}
		images[i].NewTag, images[i].Digest = img.Tag, img.Digest
		set = append(set, img.RepoURL)
	}
	return images, set
}
