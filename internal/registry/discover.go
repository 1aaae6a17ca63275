// Package registry discovers the revisions of image repositories for
// Warehouses: it lists tags, selects them by a subscription's strategy and
// resolves each to its digest, with go-containerregistry.
package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// parallelReads is how many manifests or configs one discovery reads at
// once: enough to hide a registry's latency, few enough not to be
// throttled by it.
const parallelReads = 4

// Discover lists the revisions of a subscription's repository, newest
// first, at most its discoveryLimit, each with its tag and digest (of the
// manifest or index the tag points to), and its build time when it was
// read (NewestBuild). keychain gives the credentials of the registry (nil:
// anonymous). None found is an empty list, not an error. A subscription
// that cannot work (bad regular expression or constraint) is an
// *InvalidError.
func Discover(ctx context.Context, sub kargov1.ImageSubscription, keychain authn.Keychain) ([]kargov1.DiscoveredImage, error) {
	var nameOpts []name.Option
	// Plain HTTP to any registry; without it, only to a loopback one
	// (see registryTransport).
	if sub.Insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	repo, err := name.NewRepository(sub.RepoURL, nameOpts...)
	if err != nil {
		return nil, &InvalidError{Field: "repoURL", Err: err}
	}
	if keychain == nil {
		keychain = authn.NewMultiKeychain() // resolves to anonymous
	}
	// One puller: the registry is pinged and authenticated once per
	// discovery, not once per request.
	puller, err := remote.NewPuller(remote.WithContext(ctx), remote.WithAuthFromKeychain(keychain), remote.WithTransport(registryTransport(sub.Insecure)))
	if err != nil {
		return nil, err
	}

	if sub.ImageSelectionStrategy == kargov1.DigestStrategy {
		desc, err := puller.Head(ctx, repo.Tag(sub.Tag))
		if isNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read tag %s of %s: %w", sub.Tag, repo, err)
		}
		return []kargov1.DiscoveredImage{{Tag: sub.Tag, Digest: desc.Digest.String()}}, nil
	}

	all, err := puller.List(ctx, repo)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list the tags of %s: %w", repo, err)
	}
	tags, err := SelectTags(sub, all)
	if err != nil {
		return nil, err
	}
	images := make([]kargov1.DiscoveredImage, len(tags))
	// NewestBuild needs each image's build time, in its config: a manifest
	// and a config blob per tag. To keep a discovery bounded however many
	// tags a repository has, only the discoveryLimit tags first in
	// SelectTags' cheap pre-order (greatest first, digit runs compared as
	// numbers) are read: tag schemes that grow with time (versions, dates,
	// build numbers) keep the newest builds there. Random tags (commit
	// SHAs) should be narrowed with allowTags.
	newestBuild := sub.ImageSelectionStrategy == kargov1.NewestBuildStrategy
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelReads)
	for i, tag := range tags {
		g.Go(func() (err error) {
			images[i], err = readImage(gctx, puller, repo.Tag(tag), newestBuild)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if newestBuild {
		SortByBuild(images)
	}
	return images, nil
}

// readImage resolves a tag to its digest, and reads its build time when
// withCreated (a manifest and a config blob more).
func readImage(ctx context.Context, puller *remote.Puller, ref name.Tag, withCreated bool) (kargov1.DiscoveredImage, error) {
	image := kargov1.DiscoveredImage{Tag: ref.TagStr()}
	if !withCreated {
		desc, err := puller.Head(ctx, ref)
		if err != nil {
			return image, fmt.Errorf("read tag %s of %s: %w", image.Tag, ref.Context(), err)
		}
		image.Digest = desc.Digest.String()
		return image, nil
	}
	desc, err := puller.Get(ctx, ref)
	if err != nil {
		return image, fmt.Errorf("read tag %s of %s: %w", image.Tag, ref.Context(), err)
	}
	image.Digest = desc.Digest.String()
	// Of an index, the config of its image for the default platform
	// (linux/amd64).
	img, err := desc.Image()
	if err != nil {
		return image, fmt.Errorf("read image %s of %s: %w", image.Tag, ref.Context(), err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return image, fmt.Errorf("read the config of %s of %s: %w", image.Tag, ref.Context(), err)
	}
	if !cfg.Created.IsZero() {
		image.CreatedAt = &metav1.Time{Time: cfg.Created.Time}
	}
	return image, nil
}

// isNotFound tells whether the registry said the repository or tag does
// not exist.
func isNotFound(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound
}
