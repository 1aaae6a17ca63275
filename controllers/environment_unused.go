package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/desired"
	"github.com/kargo-io/kargo/internal/overlay"
)

// eventMessageLimit bounds the message of an UnusedVariables event (the
// events API refuses messages over 1 KiB).
const eventMessageLimit = 1000

// unusedReports remembers, per Environment (by UID), the unused variables
// last reported, so that the event is emitted when the set changes, not at
// every reconcile. It lives as long as the manager: a restarted manager
// reports a non-empty set once more.
type unusedReports struct {
	mu   sync.Mutex
	last map[types.UID]string
}

// changed records names as the set of env and tells whether it differs
// from the one recorded before.
func (u *unusedReports) changed(env types.UID, names []string) bool {
	key := strings.Join(names, ",")
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.last == nil {
		u.last = map[types.UID]string{}
	}
	prev, seen := u.last[env]
	u.last[env] = key
	return !seen || prev != key
}

func (u *unusedReports) forget(env types.UID) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.last, env)
}

// reportUnusedVariables renders every Stack of the Environment, as the Stack
// reconciler does, and emits one Warning event UnusedVariables naming the
// variables the Environment sets that none of them reads (see
// overlay.Variables.Unused; names only, never values), when that set
// changes. The check is skipped while no Stack picks catalog entries, or
// while one does not render (its own status says why): what it would read
// is unknown. It never fails the reconcile.
func (r *EnvironmentReconciler) reportUnusedVariables(ctx context.Context, env kargov1.EnvironmentObject) {
	unused, err := r.unusedVariables(ctx, env)
	if err != nil {
		ctrl.LoggerFrom(ctx).V(1).Info("unused variables not checked", "reason", err.Error())
		return
	}
	if !r.unusedReports.changed(env.GetUID(), unused) || len(unused) == 0 {
		return
	}
	r.Recorder.Event(env, corev1.EventTypeWarning, kargov1.UnusedVariablesReason, overlay.UnusedMessage(unused, eventMessageLimit))
}

var errNoCatalogStack = errors.New("no Stack picks catalog entries")

func (r *EnvironmentReconciler) unusedVariables(ctx context.Context, env kargov1.EnvironmentObject) ([]string, error) {
	stacks, err := stacksOf(ctx, r, client.ObjectKeyFromObject(env))
	if err != nil {
		return nil, err
	}
	stacks = slices.DeleteFunc(stacks, func(s kargov1.Stack) bool {
		return !s.DeletionTimestamp.IsZero() || len(s.Spec.Services) == 0
	})
	if len(stacks) == 0 {
		return nil, errNoCatalogStack
	}
	vars, err := overlay.EnvironmentVariables(env.EnvironmentSpec(), desired.Data(ctx, r.Client, r.Settings.sourceNamespace(env)))
	if err != nil {
		return nil, err
	}
	var read []string
	for i := range stacks {
		stack := &stacks[i]
		out, err := overlay.Render(overlay.Input{Stack: stack, Variables: vars})
		if err != nil {
			return nil, fmt.Errorf("stack %s does not render", stack.Name)
		}
		read = append(read, out.Read...)
	}
	return vars.Unused(read), nil
}

// environmentsOfStack reconciles the Environment a Stack names: what its
// Stacks read changes its unused variables.
func (r *EnvironmentReconciler) environmentsOfStack(_ context.Context, o client.Object) []ctrl.Request {
	stack := o.(*kargov1.Stack)
	if (r.Kind == kargov1.ClusterEnvironmentKind) != stack.Spec.EnvironmentRef.IsCluster() {
		return nil
	}
	return []ctrl.Request{{NamespacedName: stackEnvironmentKey(stack)}}
}
