package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync"

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
// phases after read this listing. Its Swarm namespace must be its alone:
// objects of another Stack, installation or tool there stop it before any
// write (their volumes, <namespace>_<name>, would be mounted too).
func (r *StackReconciler) listOwned(ctx context.Context, s *stackScope) error {
	owned, err := s.engine.ListOwned(ctx, s.objects.Claim())
	if err != nil {
		return err
	}
	if len(owned.Foreign) > 0 {
		return namespaceClaimedError{namespace: s.objects.Namespace, foreign: owned.Foreign}
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

// serviceApplyConcurrency bounds the services one reconcile applies at
// once. docker stack deploy creates them one after another; the Swarm
// takes several at once, and its scheduler, not the requests, is the
// limit.
const serviceApplyConcurrency = 8

// reconcileServices applies every Service, dependencies first: by levels
// of dependsOn (services without dependencies, then those depending only
// on them, ...), the services of a level at once, at most
// serviceApplyConcurrency. A service with dependsOn is created only once
// its dependencies are Ready and were not changed by this reconcile. A
// failure of one (a port taken, an unknown network) is reported on it and
// does not stop the others.
func (r *StackReconciler) reconcileServices(ctx context.Context, s *stackScope) error {
	byName := map[string]*kargov1.Service{}
	edges := map[string][]string{}
	for i := range s.services {
		byName[s.services[i].Name] = &s.services[i]
		edges[s.services[i].Name] = s.services[i].Spec.DependsOn
	}
	for _, level := range depgraph.Levels(edges) {
		var apply []*kargov1.Service
		for _, name := range level {
			svc := byName[name]
			if waits := s.waitsFor(svc); len(waits) > 0 {
				s.waiting[svc.Name] = "waiting for " + strings.Join(waits, ", ") + " to be ready"
				continue
			}
			apply = append(apply, svc)
		}
		results := make([]serviceApply, len(apply))
		var wg sync.WaitGroup
		slots := make(chan struct{}, serviceApplyConcurrency)
		for i, svc := range apply {
			wg.Add(1)
			slots <- struct{}{}
			go func() {
				defer wg.Done()
				results[i] = r.applyService(ctx, s, svc)
				<-slots
			}()
		}
		wg.Wait()
		// Recorded in order, once the level is done: the scope is not shared
		// with the appliers.
		for i, svc := range apply {
			res := results[i]
			if res.hash != "" {
				s.desiredHashes[svc.Name] = res.hash
			}
			if res.err != nil {
				s.serviceErrors[svc.Name] = res.err
				continue
			}
			s.applied[svc.Name] = res.Change
			r.recordChange(ctx, s, res.Change, swarm.KindService, res.name, res.Drift)
		}
	}
	return nil
}

// waitsFor names the dependencies a service not created yet waits for:
// those missing, not Ready (by the listed task counts) or changed by this
// reconcile.
func (s *stackScope) waitsFor(svc *kargov1.Service) []string {
	if _, exists := s.owned.Service(swarm.ScopedName(s.objects.Namespace, svc.Name)); exists {
		return nil
	}
	var waits []string
	for _, dep := range svc.Spec.DependsOn {
		live, ok := s.owned.Service(swarm.ScopedName(s.objects.Namespace, dep))
		if !ok || !swarm.View(live, nil, s.desiredHashes[dep]).Ready || s.applied[dep] == swarm.Created || s.applied[dep] == swarm.Updated {
			waits = append(waits, dep)
		}
	}
	return waits
}

// serviceApply is the outcome of applying one service: its Swarm name and
// desired spec hash (empty when no spec could be made) and what the engine
// did.
type serviceApply struct {
	name, hash string
	swarm.ServiceResult
	err error
}

// applyService converts one Service to its Swarm spec and applies it. It
// reads the scope and writes nothing to it: services are applied at once.
func (r *StackReconciler) applyService(ctx context.Context, s *stackScope, svc *kargov1.Service) serviceApply {
	env, err := desired.Env(svc, r.keyReader(ctx, svc.Namespace))
	if err != nil {
		return serviceApply{err: err}
	}
	objs := s.objects
	objs.Env = env
	// The Environment's defaults are the lowest layer of every Service.
	spec, err := desired.ServiceSpec(svc, s.env.EnvironmentSpec().Defaults, objs)
	if err != nil {
		return serviceApply{err: invalidSpecError{fmt.Errorf("service %s: %w", svc.Name, err)}}
	}
	hash := swarm.SpecHash(spec, desired.SecretEnv(svc), s.namingKey)
	// A spec applied before whose update Swarm rolled back is not applied
	// again; a changed Service is.
	retryFailed := s.previous[svc.Name].SpecHash != hash
	res, err := s.engine.ApplyService(ctx, spec, hash, s.owner, retryFailed, s.owned)
	return serviceApply{name: spec.Name, hash: hash, ServiceResult: res, err: err}
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
