package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/desired"
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
// timeout passed) networks, configs and secrets. Volumes stay. With the
// deletion policy orphan it leaves them all; when the Swarm has not let
// them go after spec.timeout, it leaves the rest to the Environment.
func (r *StackReconciler) reconcileDelete(ctx context.Context, s *stackScope) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	if s.stack.Annotations[kargov1.DeletionPolicyAnnotation] == kargov1.DeletionPolicyOrphan {
		return r.abandon(ctx, s, "deletion policy "+kargov1.DeletionPolicyOrphan, false)
	}
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
	timeout := stackTimeout(s.stack)
	timedOut := time.Since(s.stack.DeletionTimestamp.Time) >= timeout
	// failed keeps the finalizer until the timeout; then the Environment
	// takes over what is left.
	failed := func(err error) (ctrl.Result, error) {
		err = fmt.Errorf("delete stack: %w", err)
		if !timedOut {
			return ctrl.Result{}, err
		}
		return r.abandon(ctx, s, fmt.Sprintf("deletion timed out after %s: %v", timeout, err), true)
	}
	if err := r.resolveEnvironment(ctx, s); err != nil {
		key := stackEnvironmentKey(s.stack)
		if _, getErr := getEnvironment(ctx, r.Client, key); !apierrors.IsNotFound(getErr) {
			// The Swarm is unreachable: keep the finalizer until the timeout.
			return failed(err)
		}
		r.Recorder.Eventf(s.stack, corev1.EventTypeWarning, kargov1.EnvironmentNotReadyReason, "%s is gone: Swarm objects of this stack are left in place", s.stack.Spec.EnvironmentRef.String())
		controllerutil.RemoveFinalizer(s.stack, kargov1.Finalizer)
		return ctrl.Result{}, r.Update(ctx, s.stack)
	}
	owned, err := s.engine.ListOwned(ctx, s.objects.Claim())
	if err != nil {
		return failed(err)
	}
	// Services first; networks, configs and secrets once their task
	// containers have stopped (or the timeout passed).
	services := len(owned.Services)
	if services > 0 {
		if _, err := r.removeOwned(ctx, s, &swarm.Owned{Services: owned.Services}, nil); err != nil {
			return failed(err)
		}
		owned.Services = nil
	}
	containers, err := s.engine.ContainersLeft(ctx, s.objects.Namespace)
	if err != nil {
		return failed(err)
	}
	if (services > 0 || containers > 0) && !timedOut {
		log.V(1).Info("waiting for task containers to stop", "containers", containers)
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	}
	left, err := r.removeOwned(ctx, s, owned, nil)
	if err != nil {
		return failed(err)
	}
	if left > 0 && !timedOut {
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	}
	if left > 0 {
		return r.abandon(ctx, s, fmt.Sprintf("deletion timed out after %s: %d object(s) still in use", timeout, left), true)
	}
	controllerutil.RemoveFinalizer(s.stack, kargov1.Finalizer)
	log.Info("deleted")
	// A reconcile of a cached copy may come after the one that removed
	// the finalizer: the Stack is gone then, which is what it wanted.
	return ctrl.Result{}, client.IgnoreNotFound(r.Update(ctx, s.stack))
}

// abandon lets a Stack being deleted go with objects left on the Swarm,
// with a Warning event naming its Swarm namespace and the objects of its
// last inventory. retry (a deletion that timed out) records the owner on
// the Environment, which removes them once its endpoint answers.
func (r *StackReconciler) abandon(ctx context.Context, s *stackScope, cause string, retry bool) (ctrl.Result, error) {
	namespace := desired.Namespace(s.stack)
	message := fmt.Sprintf("%s: left on the Swarm in stack namespace %s: %s", cause, namespace, inventoryNames(s.stack.Status.Inventory))
	if retry {
		dropped, err := r.recordOrphans(ctx, s, namespace)
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("record objects left on the Swarm: %w", err)
		}
		message += fmt.Sprintf("; %s removes them once its endpoint answers", s.stack.Spec.EnvironmentRef.String())
		if dropped != "" {
			message += fmt.Sprintf(" (its record is full: it no longer retries %s)", dropped)
		}
	}
	r.Recorder.Event(s.stack, corev1.EventTypeWarning, kargov1.OrphanedReason, truncate(message))
	ctrl.LoggerFrom(ctx).Info("finalizer removed with objects left on the Swarm", "namespace", namespace, "cause", cause, "retried", retry)
	controllerutil.RemoveFinalizer(s.stack, kargov1.Finalizer)
	return ctrl.Result{}, r.Update(ctx, s.stack)
}

// inventoryNames lists the objects of an inventory as "service a, network
// b", at most 20.
func inventoryNames(inventory []kargov1.InventoryEntry) string {
	if len(inventory) == 0 {
		return "no object known (the stack has no inventory)"
	}
	const limit = 20
	names := make([]string, 0, min(len(inventory), limit))
	for _, e := range inventory[:min(len(inventory), limit)] {
		names = append(names, e.Kind+" "+e.Name)
	}
	if len(inventory) > limit {
		names = append(names, fmt.Sprintf("and %d more", len(inventory)-limit))
	}
	return strings.Join(names, ", ")
}

// recordOrphans adds the Stack's owner to its Environment's
// status.orphanedOwners (read from the API server, written with an
// optimistic lock: the Environment reconciler removes entries). When the
// list is full the oldest entry is dropped: its owner is returned.
func (r *StackReconciler) recordOrphans(ctx context.Context, s *stackScope, namespace string) (dropped string, err error) {
	key := stackEnvironmentKey(s.stack)
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		dropped = ""
		env, err := getEnvironment(ctx, r.APIReader, key)
		if err != nil {
			return fmt.Errorf("%s: %w", s.stack.Spec.EnvironmentRef.String(), err)
		}
		patch := client.MergeFromWithOptions(env.DeepCopyObject().(client.Object), client.MergeFromWithOptimisticLock{})
		owners := &env.EnvironmentStatus().OrphanedOwners
		if slices.ContainsFunc(*owners, func(o kargov1.OrphanedOwner) bool { return o.Owner == s.owner }) {
			return nil
		}
		if len(*owners) >= kargov1.MaxOrphanedOwners {
			dropped = (*owners)[0].Owner
			*owners = (*owners)[1:]
		}
		*owners = append(*owners, kargov1.OrphanedOwner{Owner: s.owner, Namespace: namespace, Since: metav1.Now()})
		return r.Status().Patch(ctx, env, patch)
	})
	return dropped, err
}
