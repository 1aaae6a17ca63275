package controllers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	dockerswarm "github.com/docker/docker/api/types/swarm"
	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/metrics"
	"github.com/kargo-io/kargo/internal/swarm"
)

// observe reads services and their tasks into status.
func (r *StackReconciler) observe(ctx context.Context, s *stackScope) error {
	desiredHashes := map[string]string{}
	for _, svc := range s.services {
		desiredHashes[swarm.ScopedName(s.objects.Namespace, svc.Name)] = s.desiredHashes[svc.Name]
	}
	live := map[string]swarm.ServiceView{}
	var inventory []kargov1.InventoryEntry
	for _, svc := range s.owned.Services {
		live[svc.Spec.Name] = swarm.View(svc, s.owned.Tasks[svc.ID], desiredHashes[svc.Spec.Name])
		inventory = append(inventory, kargov1.InventoryEntry{Kind: swarm.KindService, Name: svc.Spec.Name, ID: svc.ID, Version: svc.Version.Index})
	}
	for _, n := range s.owned.Networks {
		inventory = append(inventory, kargov1.InventoryEntry{Kind: swarm.KindNetwork, Name: n.Name, ID: n.ID})
	}
	for _, f := range s.owned.Files {
		inventory = append(inventory, kargov1.InventoryEntry{Kind: f.Kind, Name: f.Name, ID: f.ID})
	}
	// What was applied this pass and removed by someone since (its event is
	// queued) stays in the inventory, so that recreating it counts as a drift.
	listed := map[string]bool{}
	for _, e := range inventory {
		listed[e.Kind+"/"+e.Name] = true
	}
	for key := range s.ensured {
		if !listed[key] {
			kind, name, _ := strings.Cut(key, "/")
			inventory = append(inventory, kargov1.InventoryEntry{Kind: kind, Name: name})
		}
	}
	sort.Slice(inventory, func(i, j int) bool {
		if inventory[i].Kind != inventory[j].Kind {
			return inventory[i].Kind < inventory[j].Kind
		}
		return inventory[i].Name < inventory[j].Name
	})
	s.stack.Status.Inventory = inventory

	states := make([]kargov1.ServiceState, 0, len(s.services))
	for _, svc := range s.services {
		name := swarm.ScopedName(s.objects.Namespace, svc.Name)
		state := kargov1.ServiceState{Name: svc.Name, SwarmName: name}
		if view, ok := live[name]; ok {
			state.ID, state.Image = view.ID, view.Image
			state.DesiredTasks, state.RunningTasks = view.Desired, view.Running
			state.UpdateState, state.UpdateFailed = view.UpdateState, view.UpdateFailed
			state.Ready, state.Message = view.Ready, view.Message
		}
		state.SpecHash = s.desiredHashes[svc.Name]
		if err := s.serviceErrors[svc.Name]; err != nil {
			state.Ready = false
			state.Message = swarm.ErrorText(err)
		} else if waiting, ok := s.waiting[svc.Name]; ok {
			state.Message = waiting
		} else if change := s.applied[svc.Name]; change == swarm.Created || change == swarm.Updated {
			// Listed before this change: its tasks are seen at the next
			// poll, which comes at once (it left Ready). The update state
			// listed was the last update's (maybe paused or rolled back):
			// this one is underway.
			state.Ready, state.UpdateFailed = false, false
			state.Message = string(change) + ", tasks converging"
			state.UpdateState = ""
			if change == swarm.Updated {
				state.UpdateState = string(dockerswarm.UpdateStateUpdating)
			}
		} else if _, ok := live[name]; !ok {
			state.Message = "not created yet"
		}
		state.Replicas = fmt.Sprintf("%d/%d", state.RunningTasks, state.DesiredTasks)
		states = append(states, state)
	}
	s.stack.Status.Services = states
	return nil
}

// recordReadiness updates the kargo_stack_ready gauge and, when the Stack
// just became Ready, the convergence histogram.
func (r *StackReconciler) recordReadiness(s *stackScope) {
	if !controllerutil.ContainsFinalizer(s.stack, kargov1.Finalizer) {
		metrics.StackDeleted(s.stack.Namespace, s.stack.Name)
		return
	}
	ready := meta.IsStatusConditionTrue(s.stack.Status.Conditions, kargov1.ReadyCondition)
	metrics.StackReady(s.stack.Namespace, s.stack.Name, ready)
	if ready && !s.notReadySince.IsZero() {
		metrics.StackConverged(s.stack.Namespace, time.Since(s.notReadySince))
	}
}

// summarize sets the Stack's conditions from the observed services. A
// failure to apply a service is returned, for the controller's backoff.
func (r *StackReconciler) summarize(s *stackScope) (ctrl.Result, error) {
	st := &s.stack.Status
	gen := s.stack.Generation
	ready := 0
	var notReady []string
	conflict, rolledBack, converging := false, false, false
	for _, state := range st.Services {
		if state.Ready {
			ready++
			continue
		}
		notReady = append(notReady, fmt.Sprintf("%s: %s", state.Name, orDefault(state.Message, fmt.Sprintf("%s tasks running", state.Replicas))))
		var c *swarm.ConflictError
		if errors.As(s.serviceErrors[state.Name], &c) {
			conflict = true
		}
		converging = converging || s.serviceErrors[state.Name] == nil
		rolledBack = rolledBack || state.UpdateFailed
	}
	st.ReadyServices = fmt.Sprintf("%d/%d", ready, len(st.Services))
	if age := time.Since(s.stack.CreationTimestamp.Time); len(st.Services) == 0 && age < emptyStackGrace {
		// A Stack and its Services are usually applied together, the Stack
		// first: `kubectl wait` must not see it Ready before they exist.
		markNotReady(&st.Conditions, gen, kargov1.ServicesNotReadyReason,
			fmt.Sprintf("no Service names this stack yet (Ready with none once it is %s old)", emptyStackGrace), false)
		return ctrl.Result{RequeueAfter: emptyStackGrace - age}, nil
	}
	if len(notReady) == 0 {
		markReady(&st.Conditions, gen, fmt.Sprintf("%d service(s) ready", ready))
		st.ObservedGeneration = gen
		return ctrl.Result{RequeueAfter: jitter(environmentInterval(s.env.EnvironmentSpec()))}, nil
	}
	message := strings.Join(notReady, "; ")
	switch {
	case conflict:
		markNotReady(&st.Conditions, gen, kargov1.ConflictReason, message, true)
		if converging {
			// The other services are still watched until they converge.
			return ctrl.Result{RequeueAfter: s.convergencePoll()}, nil
		}
		return ctrl.Result{RequeueAfter: time.Minute}, nil
	case len(s.serviceErrors) > 0:
		// Retried with the controller's backoff, not at the convergence poll.
		r.markFailed(s, kargov1.ApplyFailedReason, message)
		return ctrl.Result{}, fmt.Errorf("apply %d service(s): %s", len(s.serviceErrors), message)
	case rolledBack:
		// Swarm gave up on an update; retrying the same spec cannot help.
		markNotReady(&st.Conditions, gen, kargov1.RolledBackReason, message, true)
		st.ObservedGeneration = gen
		return ctrl.Result{RequeueAfter: jitter(environmentInterval(s.env.EnvironmentSpec()))}, nil
	case len(s.waiting) == len(notReady):
		markNotReady(&st.Conditions, gen, kargov1.DependencyNotReadyReason, message, false)
	default:
		markNotReady(&st.Conditions, gen, kargov1.ServicesNotReadyReason, message, false)
	}
	// Applying succeeded even when tasks have not converged yet.
	if len(s.serviceErrors) == 0 {
		st.ObservedGeneration = gen
		if r.timedOut(s) {
			markNotReady(&st.Conditions, gen, kargov1.ServicesNotReadyReason, "timeout waiting for services: "+message, true)
			return ctrl.Result{RequeueAfter: jitter(environmentInterval(s.env.EnvironmentSpec()))}, nil
		}
	}
	return ctrl.Result{RequeueAfter: s.convergencePoll()}, nil
}

// convergencePoll is when to look again at services still converging.
func (s *stackScope) convergencePoll() time.Duration {
	// Tasks usually start within seconds of a change: this pass's, or the
	// one that made the Stack leave Ready.
	if s.created+s.updated > 0 || !s.notReadySince.IsZero() && time.Since(s.notReadySince) < freshConvergence {
		return freshConvergencePoll
	}
	return convergencePoll
}

// timedOut tells whether the Stack has been progressing for longer than spec.timeout.
func (r *StackReconciler) timedOut(s *stackScope) bool {
	c := meta.FindStatusCondition(s.stack.Status.Conditions, kargov1.ReadyCondition)
	return c != nil && c.Status == metav1.ConditionFalse && time.Since(c.LastTransitionTime.Time) > stackTimeout(s.stack)
}

// markFailed reports a failure that is retried (with backoff): Stalled too
// once it has lasted longer than spec.timeout. The retries go on: a port
// may be freed, an image pushed.
func (r *StackReconciler) markFailed(s *stackScope, reason, message string) {
	stalled := r.timedOut(s)
	if stalled {
		message = fmt.Sprintf("failing for longer than spec.timeout (%s): %s", stackTimeout(s.stack), message)
	}
	markNotReady(&s.stack.Status.Conditions, s.stack.Generation, reason, message, stalled)
}

// stackTimeout is spec.timeout, 5m when unset.
func stackTimeout(stack *kargov1.Stack) time.Duration {
	if stack.Spec.Timeout != nil {
		return stack.Spec.Timeout.Duration
	}
	return 5 * time.Minute
}
