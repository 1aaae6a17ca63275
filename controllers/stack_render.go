package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/desired"
	"github.com/kargo-io/kargo/internal/overlay"
)

// renderFailedError: the merged configuration could not be rendered (an
// unknown entry, a patch matching nothing, a variable without value...).
type renderFailedError struct{ error }

func (e renderFailedError) Unwrap() error { return e.error }

// renderServices renders the catalog entries the Stack picks with its
// patches, images and replicas and the Environment's variables and
// defaults, and makes the rendered Services real objects owned by the Stack:
// created, updated, and deleted when no longer rendered. A failed render
// changes nothing: the last good Services keep running.
func (r *StackReconciler) renderServices(ctx context.Context, s *stackScope) error {
	out, err := desired.Render(s.stack, s.env, desired.Data(ctx, r.Client, r.Settings.sourceNamespace(s.env)))
	if err != nil {
		return renderFailedError{err}
	}
	rendered := map[string]bool{}
	for i := range out.Services {
		svc := &out.Services[i]
		rendered[svc.Name] = true
		if err := r.applyRendered(ctx, s, svc); err != nil {
			return err
		}
		s.rendered = append(s.rendered, *svc)
	}
	s.renderedConfigs = out.Configs
	return r.deleteStaleRendered(ctx, s, rendered)
}

// applyRendered creates or updates one rendered Service. A Service of that
// name that the Stack does not own (hand-written) is left alone and
// reported.
func (r *StackReconciler) applyRendered(ctx context.Context, s *stackScope, svc *kargov1.Service) error {
	i := slices.IndexFunc(s.serviceObjects, func(o kargov1.Service) bool { return o.Name == svc.Name })
	if i < 0 {
		if err := controllerutil.SetControllerReference(s.stack, svc, r.Scheme); err != nil {
			return err
		}
		if err := r.Create(ctx, svc); err != nil {
			return renderedWriteError(fmt.Errorf("create service %s: %w", svc.Name, err))
		}
		r.Recorder.Eventf(s.stack, corev1.EventTypeNormal, "Rendered", "Service %s created from catalog entry %s", svc.Name, svc.Labels[overlay.CatalogLabel])
		return nil
	}
	existing := s.serviceObjects[i].DeepCopy()
	if !metav1.IsControlledBy(existing, s.stack) {
		return renderFailedError{fmt.Errorf("spec.services: Service %s exists and was not rendered by this Stack: rename the catalog service or the Service", svc.Name)}
	}
	if equality.Semantic.DeepEqual(existing.Spec, svc.Spec) && equality.Semantic.DeepEqual(existing.Labels, svc.Labels) {
		*svc = *existing
		return nil
	}
	patch := client.MergeFrom(existing.DeepCopy())
	existing.Spec, existing.Labels = svc.Spec, svc.Labels
	if err := r.Patch(ctx, existing, patch); err != nil {
		return renderedWriteError(fmt.Errorf("update service %s: %w", svc.Name, err))
	}
	r.Recorder.Eventf(s.stack, corev1.EventTypeNormal, "Rendered", "Service %s updated", svc.Name)
	*svc = *existing
	return nil
}

// renderedWriteError marks a rendered Service the API server refuses (a
// duplicate env name added by a patch...) as a render failure: the merged
// configuration is wrong, retrying cannot help.
func renderedWriteError(err error) error {
	if apierrors.IsInvalid(err) {
		return renderFailedError{err}
	}
	return err
}

// deleteStaleRendered deletes the Services the Stack rendered before and no
// longer does; their Swarm services are then pruned like any other.
func (r *StackReconciler) deleteStaleRendered(ctx context.Context, s *stackScope, rendered map[string]bool) error {
	var errs []error
	for i := range s.serviceObjects {
		svc := &s.serviceObjects[i]
		if rendered[svc.Name] || !metav1.IsControlledBy(svc, s.stack) {
			continue
		}
		if err := r.Delete(ctx, svc); client.IgnoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("delete service %s: %w", svc.Name, err))
			continue
		}
		r.Recorder.Eventf(s.stack, corev1.EventTypeNormal, "Rendered", "Service %s deleted: no longer in spec.services", svc.Name)
	}
	return errors.Join(errs...)
}
