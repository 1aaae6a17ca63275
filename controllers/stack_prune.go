package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/swarm"
)

// prune removes owned Swarm objects the Stack no longer declares:
// services first, then networks, configs and secrets. Volumes are never removed.
func (r *StackReconciler) prune(ctx context.Context, s *stackScope) error {
	if s.stack.Spec.Prune != nil && !*s.stack.Spec.Prune {
		return nil
	}
	return r.removeOwned(ctx, s, s.desired)
}

// removeOwned removes every object of the owner not in keep. Configs and
// secrets still used by a service (being replaced) are left for a later pass.
func (r *StackReconciler) removeOwned(ctx context.Context, s *stackScope, keep map[string]map[string]bool) error {
	services, err := s.engine.ListServices(ctx, s.owner)
	if err != nil {
		return err
	}
	for _, svc := range services {
		if keep[swarm.KindService][svc.Spec.Name] {
			continue
		}
		if err := s.engine.RemoveService(ctx, svc.ID); err != nil {
			return err
		}
		s.pruned++
		r.Recorder.Eventf(s.stack, corev1.EventTypeNormal, "Deleted", "service %s deleted", svc.Spec.Name)
	}
	networks, err := s.engine.ListNetworks(ctx, s.owner)
	if err != nil {
		return err
	}
	var inUse []string
	for _, n := range networks {
		if keep[swarm.KindNetwork][n.Name] {
			continue
		}
		if err := s.engine.RemoveNetwork(ctx, n.ID); err != nil {
			// Tasks of removed services may still be attached for a moment.
			inUse = append(inUse, n.Name)
			continue
		}
		s.pruned++
		r.Recorder.Eventf(s.stack, corev1.EventTypeNormal, "Deleted", "network %s deleted", n.Name)
	}
	files, err := s.engine.ListFiles(ctx, s.owner)
	if err != nil {
		return err
	}
	for _, f := range files {
		if keep[f.Kind][f.Name] {
			continue
		}
		if err := s.engine.RemoveFile(ctx, f); err != nil {
			if errors.Is(err, swarm.ErrInUse) {
				inUse = append(inUse, f.Name)
				continue
			}
			return err
		}
		s.pruned++
		r.Recorder.Eventf(s.stack, corev1.EventTypeNormal, "Deleted", "%s %s deleted", f.Kind, f.Name)
	}
	if len(inUse) > 0 {
		ctrl.LoggerFrom(ctx).V(1).Info("left in use, retried later", "objects", inUse)
	}
	return nil
}

// reconcileDelete removes everything the Stack owns: services, then (once
// their tasks are gone or the timeout passed) networks, configs and secrets.
// Volumes stay.
func (r *StackReconciler) reconcileDelete(ctx context.Context, s *stackScope) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	markNotReady(&s.stack.Status.Conditions, s.stack.Generation, kargov1.DeletingReason, "removing Swarm objects", false)
	if err := r.resolveEnvironment(ctx, s); err != nil {
		var missing bool
		env := &kargov1.Environment{}
		if getErr := r.Get(ctx, types.NamespacedName{Namespace: s.stack.Namespace, Name: s.stack.Spec.EnvironmentRef.Name}, env); apierrors.IsNotFound(getErr) {
			missing = true
		}
		if !missing {
			// The Swarm is unreachable: keep the finalizer so nothing is orphaned.
			return ctrl.Result{}, fmt.Errorf("delete stack: %w", err)
		}
		r.Recorder.Eventf(s.stack, corev1.EventTypeWarning, kargov1.EnvironmentNotReadyReason, "environment %s is gone: Swarm objects of this stack are left in place", env.Name)
		controllerutil.RemoveFinalizer(s.stack, kargov1.Finalizer)
		return ctrl.Result{}, r.Update(ctx, s.stack)
	}
	keep := map[string]map[string]bool{}
	services, err := s.engine.ListServices(ctx, s.owner)
	if err != nil {
		return ctrl.Result{}, err
	}
	for _, svc := range services {
		if err := s.engine.RemoveService(ctx, svc.ID); err != nil {
			return ctrl.Result{}, err
		}
		r.Recorder.Eventf(s.stack, corev1.EventTypeNormal, "Deleted", "service %s deleted", svc.Spec.Name)
	}
	tasks, err := s.engine.ContainersLeft(ctx, s.objects.Namespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	timeout := stackTimeout(s.stack)
	if tasks > 0 && time.Since(s.stack.DeletionTimestamp.Time) < timeout {
		log.V(1).Info("waiting for task containers to stop", "containers", tasks)
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	}
	if err := r.removeOwned(ctx, s, keep); err != nil {
		return ctrl.Result{}, err
	}
	inventory, err := s.engine.CountOwned(ctx, s.owner)
	if err != nil {
		return ctrl.Result{}, err
	}
	if inventory > 0 && time.Since(s.stack.DeletionTimestamp.Time) < timeout {
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	}
	controllerutil.RemoveFinalizer(s.stack, kargov1.Finalizer)
	log.Info("deleted", "leftovers", inventory)
	return ctrl.Result{}, r.Update(ctx, s.stack)
}
