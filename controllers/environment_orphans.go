package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/swarm"
)

// orphanRetry is how soon an Environment looks again while objects of
// deleted Stacks are left (tasks of a removed service still hold a network).
const orphanRetry = 5 * time.Second

// removeOrphans removes, now that the endpoint answers, what Stacks whose
// deletion timed out left on the Swarm (status.orphanedOwners): their
// services, then networks, configs and secrets; never volumes. An entry
// goes once nothing of its owner is left, or when a Stack of that name
// exists again: the objects are its own then, and it prunes what it does
// not declare. A failure is reported and retried; it does not make the
// Environment less Ready.
func (r *EnvironmentReconciler) removeOrphans(ctx context.Context, env kargov1.EnvironmentObject) {
	status := env.EnvironmentStatus()
	if len(status.OrphanedOwners) == 0 {
		return
	}
	engine, err := r.Engines.For(ctx, r.Client, env)
	if err != nil {
		r.Recorder.Eventf(env, corev1.EventTypeWarning, kargov1.ApplyFailedReason, "remove objects left by deleted stacks: %s", err.Error())
		return
	}
	var keep []kargov1.OrphanedOwner
	for _, o := range status.OrphanedOwners {
		done, err := r.removeOrphan(ctx, env, engine, o)
		if err != nil {
			r.Recorder.Eventf(env, corev1.EventTypeWarning, kargov1.ApplyFailedReason, "%s", err.Error())
		}
		if !done {
			keep = append(keep, o)
		}
	}
	status.OrphanedOwners = keep
}

// removeOrphan removes what one deleted Stack left and tells whether
// nothing is left.
func (r *EnvironmentReconciler) removeOrphan(ctx context.Context, env kargov1.EnvironmentObject, engine *swarm.Client, o kargov1.OrphanedOwner) (bool, error) {
	namespace, name, _ := strings.Cut(o.Owner, "/")
	var stack kargov1.Stack
	err := r.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &stack)
	switch {
	case err == nil:
		ctrl.LoggerFrom(ctx).Info("stack recreated: its objects left by the deleted one are its own", "owner", o.Owner)
		return true, nil
	case !apierrors.IsNotFound(err):
		return false, fmt.Errorf("stack %s: %w", o.Owner, err)
	}
	owned, err := engine.ListOwned(ctx, swarm.Claim{Namespace: o.Namespace, Owner: o.Owner, Manager: r.Settings.ManagerID})
	if err != nil {
		return false, fmt.Errorf("objects left by deleted stack %s: %w", o.Owner, err)
	}
	var removed []string
	left, err := engine.RemoveOwned(ctx, owned, nil, func(kind, name string) { removed = append(removed, kind+" "+name) })
	if len(removed) > 0 {
		r.Recorder.Eventf(env, corev1.EventTypeNormal, kargov1.OrphansRemovedReason, "%s",
			truncate(fmt.Sprintf("removed what stack %s left in stack namespace %s when its deletion timed out: %s", o.Owner, o.Namespace, strings.Join(removed, ", "))))
	}
	if err != nil {
		return false, fmt.Errorf("remove objects left by deleted stack %s: %w", o.Owner, err)
	}
	return left == 0, nil
}
