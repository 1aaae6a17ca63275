package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/swarm"
)

// prune removes the owned Swarm objects the Stack no longer declares
// (swarm.RemoveOwned: services first, then networks, configs and secrets;
// volumes never). What is still in use is left for a later pass. With
// prune: false only the earlier versions of its configs and secrets go
// (oldVersions).
func (r *StackReconciler) prune(ctx context.Context, s *stackScope) error {
	remove := s.owned
	if s.stack.Spec.Prune != nil && !*s.stack.Spec.Prune {
		remove = &swarm.Owned{Files: s.oldVersions()}
	}
	left, err := r.removeOwned(ctx, s, remove, s.desired)
	if left > 0 {
		ctrl.LoggerFrom(ctx).V(1).Info("left in use, retried later", "objects", left)
	}
	return err
}

// oldVersions are the owned configs and secrets that are earlier versions
// of one the Stack declares now and that no service of the Stack refers
// to any more. prune: false keeps what the Stack no longer declares, not
// these: Kargo made each of them for one content the source no longer
// holds, and every change of that content would add one more.
func (s *stackScope) oldVersions() []swarm.OwnedFile {
	var old []swarm.OwnedFile
	for _, f := range s.owned.Files {
		current, declared := s.objects.Configs[f.Logical]
		if f.Kind == swarm.KindSecret {
			current, declared = s.objects.Secrets[f.Logical]
		}
		if declared && current.Name != f.Name && !s.owned.FileInUse(f) {
			old = append(old, f)
		}
	}
	return old
}

// removeOwned removes what owned holds and keep does not, with an event for
// each object removed.
func (r *StackReconciler) removeOwned(ctx context.Context, s *stackScope, owned *swarm.Owned, keep map[string]map[string]bool) (int, error) {
	return s.engine.RemoveOwned(ctx, owned, keep, func(kind, name string) {
		s.pruned++
		r.Recorder.Eventf(s.stack, corev1.EventTypeNormal, "Deleted", "%s %s deleted", kind, name)
	})
}

// reconcileDelete removes everything the Stack owns once the Stacks that
// depend on it are gone: services, then (once their tasks are gone or the
// timeout passed) networks, configs and secrets. Volumes stay.
func (r *StackReconciler) reconcileDelete(ctx context.Context, s *stackScope) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	dependents, err := r.dependents(ctx, s)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("delete stack: %w", err)
	}
	if len(dependents) > 0 {
		// Their deletion (a watch) wakes this Stack.
		markNotReady(&s.stack.Status.Conditions, s.stack.Generation, kargov1.DeletingReason,
			"waiting for the stacks that depend on it to be deleted first: "+strings.Join(dependents, ", "), false)
		return ctrl.Result{RequeueAfter: 10 * time.Second}, nil
	}
	markNotReady(&s.stack.Status.Conditions, s.stack.Generation, kargov1.DeletingReason, "removing Swarm objects", false)
	if err := r.resolveEnvironment(ctx, s); err != nil {
		key := stackEnvironmentKey(s.stack)
		if _, getErr := getEnvironment(ctx, r.Client, key); !apierrors.IsNotFound(getErr) {
			// The Swarm is unreachable: keep the finalizer so nothing is orphaned.
			return ctrl.Result{}, fmt.Errorf("delete stack: %w", err)
		}
		r.Recorder.Eventf(s.stack, corev1.EventTypeWarning, kargov1.EnvironmentNotReadyReason, "%s is gone: Swarm objects of this stack are left in place", describeEnvironment(key))
		controllerutil.RemoveFinalizer(s.stack, kargov1.Finalizer)
		return ctrl.Result{}, r.Update(ctx, s.stack)
	}
	owned, err := s.engine.ListOwned(ctx, s.objects.Claim())
	if err != nil {
		return ctrl.Result{}, err
	}
	// Services first; networks, configs and secrets once their task
	// containers have stopped (or the timeout passed).
	services := len(owned.Services)
	if services > 0 {
		if _, err := r.removeOwned(ctx, s, &swarm.Owned{Services: owned.Services}, nil); err != nil {
			return ctrl.Result{}, err
		}
		owned.Services = nil
	}
	containers, err := s.engine.ContainersLeft(ctx, s.objects.Namespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	timeout := stackTimeout(s.stack)
	timedOut := time.Since(s.stack.DeletionTimestamp.Time) >= timeout
	if (services > 0 || containers > 0) && !timedOut {
		log.V(1).Info("waiting for task containers to stop", "containers", containers)
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	}
	left, err := r.removeOwned(ctx, s, owned, nil)
	if err != nil {
		return ctrl.Result{}, err
	}
	if left > 0 && !timedOut {
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	}
	controllerutil.RemoveFinalizer(s.stack, kargov1.Finalizer)
	log.Info("deleted", "leftovers", left)
	// A reconcile of a cached copy may come after the one that removed
	// the finalizer: the Stack is gone then, which is what it wanted.
	return ctrl.Result{}, client.IgnoreNotFound(r.Update(ctx, s.stack))
}
