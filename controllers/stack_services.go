package controllers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/depgraph"
	"github.com/kargo-io/kargo/internal/desired"
	"github.com/kargo-io/kargo/internal/metrics"
	"github.com/kargo-io/kargo/internal/swarm"
)

// listOwned lists what the Stack has on the Swarm, once per kind: the
// phases after read this listing.
func (r *StackReconciler) listOwned(ctx context.Context, s *stackScope) error {
	owned, err := s.engine.ListOwned(ctx, s.owner)
	if err != nil {
		return err
	}
	s.owned = owned
	return nil
}

// listServiceObjects reads the Service objects that name the Stack from the
// API server, not the cache: a Stack applied in one file with its Services
// may reconcile before the cache has seen them, and must not report Ready
// for a set of Services it has not seen.
func (r *StackReconciler) listServiceObjects(ctx context.Context, s *stackScope) error {
	var list kargov1.ServiceList
	if err := r.APIReader.List(ctx, &list, client.InNamespace(s.stack.Namespace),
		client.MatchingFields{kargov1.ServiceStackRefField: s.stack.Name}); err != nil {
		return fmt.Errorf("list services: %w", err)
	}
	s.serviceObjects = list.Items
	return nil
}

// collectServices orders the Service objects of the Stack, hand-written and
// rendered, dependencies first (then by name), and checks their dependsOn.
func (r *StackReconciler) collectServices(_ context.Context, s *stackScope) error {
	// Rendered Services come from this reconcile's render.
	services := desired.Services(s.stack, s.serviceObjects, s.rendered)
	byName := map[string]kargov1.Service{}
	edges := map[string][]string{}
	for _, svc := range services {
		byName[svc.Name] = svc
		edges[svc.Name] = svc.Spec.DependsOn
	}
	for _, svc := range services {
		for i, dep := range svc.Spec.DependsOn {
			if _, ok := byName[dep]; !ok {
				return invalidSpecError{fmt.Errorf("service %s spec.dependsOn[%d]: no service %q in stack %s", svc.Name, i, dep, s.stack.Name)}
			}
		}
	}
	order, cycle := depgraph.Order(edges)
	if cycle != nil {
		return dependencyCycleError{what: "services", cycle: cycle}
	}
	s.services = make([]kargov1.Service, 0, len(order))
	for _, name := range order {
		s.services = append(s.services, byName[name])
		s.desired[swarm.KindService][swarm.ScopedName(s.objects.Namespace, name)] = true
	}
	return nil
}

// reconcileServices applies every Service, dependencies first. A service
// with dependsOn is created only once its dependencies are Ready. A failure
// of one (a port taken, an unknown network) is reported on it and does not
// stop the others.
func (r *StackReconciler) reconcileServices(ctx context.Context, s *stackScope) error {
	// Readiness of a dependency needs the listed task counts, not its tasks.
	views := func(name string) (swarm.ServiceView, bool) {
		live, ok := s.owned.Service(name)
		if !ok {
			return swarm.ServiceView{}, false
		}
		return swarm.View(live, nil), true
	}
	for i := range s.services {
		svc := &s.services[i]
		name := swarm.ScopedName(s.objects.Namespace, svc.Name)
		if _, exists := views(name); !exists && len(svc.Spec.DependsOn) > 0 {
			var waits []string
			for _, dep := range svc.Spec.DependsOn {
				view, ok := views(swarm.ScopedName(s.objects.Namespace, dep))
				if !ok || !view.Ready || s.applied[dep] == swarm.Created || s.applied[dep] == swarm.Updated {
					waits = append(waits, dep)
				}
			}
			if len(waits) > 0 {
				s.waiting[svc.Name] = "waiting for " + strings.Join(waits, ", ") + " to be ready"
				continue
			}
		}
		if err := r.applyService(ctx, s, svc); err != nil {
			s.serviceErrors[svc.Name] = err
		}
	}
	return nil
}

// applyService converts one Service to its Swarm spec and applies it.
func (r *StackReconciler) applyService(ctx context.Context, s *stackScope, svc *kargov1.Service) error {
	env, err := desired.Env(svc, r.keyReader(ctx, svc.Namespace))
	if err != nil {
		return err
	}
	objs := s.objects
	objs.Env = env
	// The Environment's defaults are the lowest layer of every Service.
	spec, err := desired.ServiceSpec(svc, s.env.Spec.Defaults, objs)
	if err != nil {
		return invalidSpecError{fmt.Errorf("service %s: %w", svc.Name, err)}
	}
	hash := swarm.SpecHash(spec)
	s.desiredHashes[svc.Name] = hash
	// A spec applied before whose update Swarm rolled back is not applied
	// again; a changed Service is.
	retryFailed := s.previous[svc.Name].SpecHash != hash
	res, err := s.engine.ApplyService(ctx, spec, s.owner, retryFailed, s.owned)
	if err != nil {
		return err
	}
	s.applied[svc.Name] = res.Change
	r.recordChange(ctx, s, res.Change, swarm.KindService, spec.Name, res.Drift)
	return nil
}

// recordChange counts a change and emits its event. Creating what the last
// inventory held, or updating a service whose fields someone else changed,
// is a drift correction.
func (r *StackReconciler) recordChange(ctx context.Context, s *stackScope, change swarm.Change, kind, name string, drift []string) {
	s.ensured[kind+"/"+name] = true
	switch {
	case change == swarm.Created && s.inventoried[kind+"/"+name]:
		s.created++
		r.driftCorrected(ctx, s, kind, "%s %s was removed outside Kargo: recreated", kind, name)
	case change == swarm.Created:
		s.created++
		r.Recorder.Eventf(s.stack, corev1.EventTypeNormal, "Created", "%s %s created", kind, name)
	case change == swarm.Updated && len(drift) > 0:
		s.updated++
		r.driftCorrected(ctx, s, kind, "%s %s: reverted manual change of %s", kind, name, strings.Join(drift, ", "))
	case change == swarm.Updated:
		s.updated++
		r.Recorder.Eventf(s.stack, corev1.EventTypeNormal, "Updated", "%s %s updated", kind, name)
	}
}

// driftCorrected records a reverted manual change: metric, event, log.
func (r *StackReconciler) driftCorrected(ctx context.Context, s *stackScope, kind, format string, args ...any) {
	message := fmt.Sprintf(format, args...)
	metrics.DriftCorrected(s.stack.Namespace, s.stack.Name, kind)
	r.Recorder.Event(s.stack, corev1.EventTypeNormal, "DriftCorrected", message)
	ctrl.LoggerFrom(ctx).Info("drift corrected", "kind", kind, "change", message)
}
