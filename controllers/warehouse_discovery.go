package controllers

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/registry"
)

// noImagesError: a subscription found no revision to pick.
type noImagesError struct{ error }

// Unwrap returns the wrapped error.
func (e noImagesError) Unwrap() error { return e.error }

// discoveryFailedError: a registry could not be read.
type discoveryFailedError struct{ error }

// Unwrap returns the wrapped error.
func (e discoveryFailedError) Unwrap() error { return e.error }

// resolveCredentials reads the pull Secret (from the API server: Secrets
// are not cached) into the keychain the registries are read with.
func (r *WarehouseReconciler) resolveCredentials(ctx context.Context, s *warehouseScope) error {
	ref := s.warehouse.Spec.PullSecretRef
	if ref == nil {
		return nil
	}
	secret := &corev1.Secret{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: s.warehouse.Namespace, Name: ref.Name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return sourceNotFoundError{fmt.Errorf("spec.pullSecretRef: secret %s not found", ref.Name)}
		}
		return fmt.Errorf("read the pull secret %s: %w", ref.Name, err)
	}
	keychain, err := registry.KeychainFromSecret(secret)
	if err != nil {
		return invalidSpecError{fmt.Errorf("spec.pullSecretRef: %w", err)}
	}
	s.keychain = keychain
	return nil
}

// discover reads each subscription's repository into status.discovered,
// newest first, and keeps the newest revision of each. A subscription
// that fails keeps what it found last in status; no Freight is made until
// every subscription has a newest revision.
func (r *WarehouseReconciler) discover(ctx context.Context, s *warehouseScope) error {
	wh := s.warehouse
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	previous := map[string]kargov1.DiscoveredImages{}
	for _, d := range wh.Status.Discovered {
		previous[d.RepoURL] = d
	}
	discovered := make([]kargov1.DiscoveredImages, 0, len(wh.Spec.Subscriptions))
	var errs []error
	for i, sub := range wh.Spec.Subscriptions {
		images, err := registry.Discover(ctx, sub, s.keychain)
		var invalid *registry.InvalidError
		switch {
		case errors.As(err, &invalid):
			return invalidSpecError{fmt.Errorf("spec.subscriptions[%d].%w", i, invalid)}
		case err != nil:
			errs = append(errs, discoveryFailedError{fmt.Errorf("spec.subscriptions[%d]: %w", i, err)})
			if d, ok := previous[sub.RepoURL]; ok {
				discovered = append(discovered, d)
			}
			continue
		case len(images) == 0:
			errs = append(errs, noImagesError{fmt.Errorf("spec.subscriptions[%d]: %s", i, describeNoImages(sub))})
		default:
			s.newest = append(s.newest, kargov1.FreightImage{RepoURL: sub.RepoURL, Tag: images[0].Tag, Digest: images[0].Digest})
		}
		discovered = append(discovered, kargov1.DiscoveredImages{RepoURL: sub.RepoURL, Images: images})
	}
	wh.Status.Discovered = discovered
	// A registry failure decides the reason over a lack of images: it is
	// retried sooner.
	err := errors.Join(errs...)
	var failed discoveryFailedError
	if errors.As(err, &failed) {
		return discoveryFailedError{err}
	}
	now := metav1.Now()
	wh.Status.LastDiscoveryTime = &now
	if err != nil {
		return noImagesError{err}
	}
	return nil
}

// describeNoImages says what a subscription that found nothing looked for.
func describeNoImages(sub kargov1.ImageSubscription) string {
	if sub.ImageSelectionStrategy == kargov1.DigestStrategy {
		return fmt.Sprintf("tag %s of %s not found", sub.Tag, sub.RepoURL)
	}
	msg := fmt.Sprintf("no tag of %s matches (%s", sub.RepoURL, sub.ImageSelectionStrategy)
	if sub.SemverConstraint != "" {
		msg += " " + sub.SemverConstraint
	}
	if sub.AllowTags != "" {
		msg += ", allowTags " + sub.AllowTags
	}
	if sub.IgnoreTags != "" {
		msg += ", ignoreTags " + sub.IgnoreTags
	}
	return msg + ")"
}
