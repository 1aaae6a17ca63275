package controllers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/depgraph"
	"github.com/kargo-io/kargo/internal/desired"
	"github.com/kargo-io/kargo/internal/metrics"
	"github.com/kargo-io/kargo/internal/swarm"
)

const (
	serviceStackIndex   = ".spec.stackRef.name"
	stackEnvIndex       = ".spec.environmentRef.name"
	stackDependsOnIndex = ".spec.dependsOn.name"
	// ReconcileRequestAnnotation asks for an immediate reconcile; its value
	// is copied to status.lastHandledReconcileAt when handled.
	ReconcileRequestAnnotation = "swarm.kargo.io/reconcile-requested-at"
	// convergencePoll is how often a Stack is looked at while its services
	// converge; in the first freshConvergence after it left Ready (or was
	// created), when tasks usually start, every freshConvergencePoll.
	convergencePoll      = 3 * time.Second
	freshConvergence     = 15 * time.Second
	freshConvergencePoll = time.Second
	// emptyStackGrace is how long a new Stack without Services waits for
	// them before it reports Ready with none (a Stack of networks only).
	emptyStackGrace = 10 * time.Second
)

// StackReconciler deploys each Stack's networks, configs, secrets and
// services onto its Environment's Swarm and reports their state.
type StackReconciler struct {
	client.Client
	// APIReader reads from the API server, bypassing the cache: the Services
	// of a Stack are listed with it (see listServiceObjects).
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  record.EventRecorder
	Engines   *Engines
	Watchers  *Watchers
}

// stackScope is what the phases of one reconcile share.
type stackScope struct {
	stack    *kargov1.Stack
	env      *kargov1.Environment
	engine   *swarm.Client
	owner    string
	services []kargov1.Service
	// serviceObjects are the Service objects naming the Stack, as the API
	// server has them now.
	serviceObjects []kargov1.Service
	// rendered are the Services rendered from the catalog this reconcile,
	// renderedConfigs the config files of their entries.
	rendered        []kargov1.Service
	renderedConfigs map[string][]byte
	objects         swarm.StackObjects
	// desired names per kind of what the Stack declares now.
	desired map[string]map[string]bool
	// serviceErrors are per-service failures that do not stop the others.
	serviceErrors map[string]error
	// waiting holds, per service not created yet, the dependencies it waits for.
	waiting map[string]string
	// desiredHashes are the spec hashes of the services this reconcile,
	// and applied the services it created or updated.
	desiredHashes map[string]string
	applied       map[string]bool
	// previous is the status of the last reconcile: services by name and
	// the inventory by kind/name, to tell a drift from a first creation.
	previous    map[string]kargov1.ServiceState
	inventoried map[string]bool
	// ensured holds kind/name of every object this reconcile applied.
	ensured map[string]bool
	// notReadySince is when Ready last left True (zero when it was True):
	// the start of the convergence measured when it comes back.
	notReadySince time.Time
	// changes counts what this reconcile did, for the summary log line.
	created, updated, pruned int
}

// +kubebuilder:rbac:groups=swarm.kargo.io,resources=stacks,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=stacks/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=stacks/finalizers,verbs=update
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=services,verbs=get;list;watch;create;update;patch;delete

// Reconcile makes the Swarm match a Stack.
func (r *StackReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	start := time.Now()
	log := ctrl.LoggerFrom(ctx)
	stack := &kargov1.Stack{}
	if err := r.Get(ctx, req.NamespacedName, stack); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !controllerutil.ContainsFinalizer(stack, kargov1.Finalizer) && stack.DeletionTimestamp.IsZero() {
		patch := client.MergeFrom(stack.DeepCopy())
		controllerutil.AddFinalizer(stack, kargov1.Finalizer)
		return ctrl.Result{}, r.Patch(ctx, stack, patch)
	}
	if stack.Spec.Suspend && stack.DeletionTimestamp.IsZero() {
		log.V(1).Info("suspended")
		return ctrl.Result{}, nil
	}

	base := stack.DeepCopy()
	scope := newStackScope(stack)
	defer func() {
		if v, ok := stack.Annotations[ReconcileRequestAnnotation]; ok {
			stack.Status.LastHandledReconcileAt = v
		}
		r.recordReadiness(scope)
		if err := r.Status().Patch(ctx, stack, client.MergeFrom(base)); err != nil && !apierrors.IsNotFound(err) {
			retErr = kerrors.NewAggregate([]error{retErr, fmt.Errorf("patch status: %w", err)})
		}
	}()

	stack.Status.Namespace = desired.Namespace(stack)
	if !stack.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, scope)
	}
	result, err := r.reconcile(ctx, scope)
	log.Info(fmt.Sprintf("reconciled in %s: %d created, %d updated, %d pruned", time.Since(start).Round(time.Millisecond), scope.created, scope.updated, scope.pruned),
		"ready", meta.IsStatusConditionTrue(stack.Status.Conditions, kargov1.ReadyCondition), "next", result.RequeueAfter)
	return result, err
}

func newStackScope(stack *kargov1.Stack) *stackScope {
	s := &stackScope{
		stack: stack, owner: desired.Owner(stack),
		serviceErrors: map[string]error{}, waiting: map[string]string{},
		desiredHashes: map[string]string{}, applied: map[string]bool{},
		previous: map[string]kargov1.ServiceState{}, inventoried: map[string]bool{}, ensured: map[string]bool{},
	}
	for _, st := range stack.Status.Services {
		s.previous[st.Name] = st
	}
	for _, e := range stack.Status.Inventory {
		s.inventoried[e.Kind+"/"+e.Name] = true
	}
	if c := meta.FindStatusCondition(stack.Status.Conditions, kargov1.ReadyCondition); c == nil {
		s.notReadySince = stack.CreationTimestamp.Time
	} else if c.Status != metav1.ConditionTrue {
		s.notReadySince = c.LastTransitionTime.Time
	}
	return s
}

// reconcile runs the phases in order; each returns an error wrapped with context.
func (r *StackReconciler) reconcile(ctx context.Context, s *stackScope) (ctrl.Result, error) {
	gen := s.stack.Generation
	markReconciling(&s.stack.Status.Conditions, gen, kargov1.ProgressingReason, "reconciling")
	if err := r.resolveEnvironment(ctx, s); err != nil {
		markNotReady(&s.stack.Status.Conditions, gen, kargov1.EnvironmentNotReadyReason, err.Error(), false)
		return ctrl.Result{RequeueAfter: 10 * time.Second}, nil
	}
	if err := r.checkDependencies(ctx, s); err != nil {
		var notReady dependencyNotReadyError
		if errors.As(err, &notReady) {
			// Nothing is created or changed until the dependencies are
			// Ready; their status changes enqueue this Stack.
			markNotReady(&s.stack.Status.Conditions, gen, kargov1.DependencyNotReadyReason, err.Error(), false)
			return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
		}
		return r.fail(s, err)
	}
	for _, phase := range []func(context.Context, *stackScope) error{
		r.listServiceObjects, r.renderServices, r.collectServices,
		r.reconcileNetworks, r.reconcileFiles, r.reconcileServices, r.prune,
		r.observe,
	} {
		if err := phase(ctx, s); err != nil {
			return r.fail(s, err)
		}
	}
	return r.summarize(s), nil
}

// fail reports err on the Stack. Invalid specs and conflicts stall (a
// change of the Stack or Swarm retries); the rest is retried with backoff.
func (r *StackReconciler) fail(s *stackScope, err error) (ctrl.Result, error) {
	reason, stalled := classifyError(err)
	markNotReady(&s.stack.Status.Conditions, s.stack.Generation, reason, err.Error(), stalled)
	r.Recorder.Eventf(s.stack, corev1.EventTypeWarning, reason, "%s", err.Error())
	if stalled {
		// Conflicts and bad references can be fixed outside Kubernetes:
		// look again later rather than never.
		return ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	return ctrl.Result{}, err
}

// invalidSpecError marks errors that retrying cannot fix.
type invalidSpecError struct{ error }

func (e invalidSpecError) Unwrap() error { return e.error }

// dependencyCycleError: dependsOn entries form a cycle.
type dependencyCycleError struct {
	what  string
	cycle []string
}

func (e dependencyCycleError) Error() string {
	return fmt.Sprintf("dependency cycle between %s: %s", e.what, strings.Join(e.cycle, " -> "))
}

// dependencyNotReadyError: Stacks of spec.dependsOn are missing or not Ready.
type dependencyNotReadyError struct{ waiting []string }

func (e dependencyNotReadyError) Error() string {
	return "waiting for " + strings.Join(e.waiting, "; ")
}

func classifyError(err error) (reason string, stalled bool) {
	var conflict *swarm.ConflictError
	var invalid invalidSpecError
	var missing sourceNotFoundError
	var cycle dependencyCycleError
	var render renderFailedError
	switch {
	case errors.As(err, &conflict):
		return kargov1.ConflictReason, true
	case errors.As(err, &render):
		return kargov1.RenderFailedReason, true
	case errors.As(err, &cycle):
		return kargov1.DependencyCycleReason, true
	case errors.As(err, &invalid):
		return kargov1.InvalidSpecReason, true
	case errors.As(err, &missing):
		return kargov1.SourceNotFoundReason, false
	default:
		return kargov1.ApplyFailedReason, false
	}
}

func (r *StackReconciler) resolveEnvironment(ctx context.Context, s *stackScope) error {
	env := &kargov1.Environment{}
	key := types.NamespacedName{Namespace: s.stack.Namespace, Name: s.stack.Spec.EnvironmentRef.Name}
	if err := r.Get(ctx, key, env); err != nil {
		return fmt.Errorf("environment %s: %w", key.Name, err)
	}
	// A Stack being deleted uses its Environment whatever its condition
	// (an Environment being deleted waits for its Stacks, Ready=False):
	// an unreachable endpoint fails the engine calls and keeps the finalizer.
	if s.stack.DeletionTimestamp.IsZero() && !meta.IsStatusConditionTrue(env.Status.Conditions, kargov1.ReadyCondition) {
		msg := "not reconciled yet"
		if c := meta.FindStatusCondition(env.Status.Conditions, kargov1.ReadyCondition); c != nil {
			msg = c.Message
		}
		return fmt.Errorf("environment %s is not Ready: %s", key.Name, msg)
	}
	engine, err := r.Engines.For(ctx, r.Client, env)
	if err != nil {
		return fmt.Errorf("environment %s: %w", key.Name, err)
	}
	s.env, s.engine = env, engine
	s.objects = swarm.StackObjects{
		Namespace: desired.Namespace(s.stack), Owner: s.owner,
		Networks: map[string]string{}, NetworkNames: map[string]string{},
		Configs: map[string]swarm.ObjectRef{}, Secrets: map[string]swarm.ObjectRef{},
	}
	s.desired = map[string]map[string]bool{swarm.KindService: {}, swarm.KindNetwork: {}, swarm.KindConfig: {}, swarm.KindSecret: {}}
	return nil
}

// checkDependencies makes sure every Stack of spec.dependsOn exists and is
// Ready for its current generation, and that dependsOn has no cycle.
func (r *StackReconciler) checkDependencies(ctx context.Context, s *stackScope) error {
	if len(s.stack.Spec.DependsOn) == 0 {
		return nil
	}
	var list kargov1.StackList
	if err := r.List(ctx, &list, client.InNamespace(s.stack.Namespace)); err != nil {
		return fmt.Errorf("list stacks: %w", err)
	}
	stacks := map[string]*kargov1.Stack{}
	edges := map[string][]string{}
	for i := range list.Items {
		st := &list.Items[i]
		stacks[st.Name] = st
		for _, d := range st.Spec.DependsOn {
			edges[st.Name] = append(edges[st.Name], d.Name)
		}
	}
	if cycle := depgraph.Cycle(edges, s.stack.Name); cycle != nil {
		return dependencyCycleError{what: "stacks", cycle: cycle}
	}
	var waiting []string
	for _, d := range s.stack.Spec.DependsOn {
		dep, ok := stacks[d.Name]
		switch {
		case !ok:
			waiting = append(waiting, fmt.Sprintf("stack %s: not found", d.Name))
		case !isReady(dep.Status.Conditions, dep.Generation, dep.Status.ObservedGeneration):
			msg := "not reconciled yet"
			if c := meta.FindStatusCondition(dep.Status.Conditions, kargov1.ReadyCondition); c != nil {
				msg = c.Message
			}
			waiting = append(waiting, fmt.Sprintf("stack %s: %s", d.Name, msg))
		}
	}
	if len(waiting) > 0 {
		return dependencyNotReadyError{waiting: waiting}
	}
	return nil
}

// isReady tells whether an object is Ready for its current generation.
func isReady(conds []metav1.Condition, generation, observed int64) bool {
	c := meta.FindStatusCondition(conds, kargov1.ReadyCondition)
	return c != nil && c.Status == metav1.ConditionTrue && observed == generation && c.ObservedGeneration == generation
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

func (s *stackScope) labels(logicalName string) map[string]string {
	return map[string]string{
		kargov1.OwnerLabel:          s.owner,
		kargov1.StackNamespaceLabel: s.objects.Namespace,
		kargov1.LogicalNameLabel:    logicalName,
	}
}

func (r *StackReconciler) reconcileNetworks(ctx context.Context, s *stackScope) error {
	for _, n := range s.stack.Spec.Networks {
		name := desired.NetworkName(s.objects.Namespace, n)
		s.objects.NetworkNames[n.Name] = name
		if n.External {
			id, err := s.engine.ExternalNetwork(ctx, name)
			if err != nil {
				return err
			}
			s.objects.Networks[n.Name] = id
			continue
		}
		labels := s.labels(n.Name)
		for k, v := range n.Labels {
			labels[k] = v
		}
		id, change, err := s.engine.EnsureNetwork(ctx, swarm.NetworkSpec{
			Name: name, Driver: n.Driver, Attachable: n.Attachable, Internal: n.Internal,
			Encrypted: n.Encrypted, Options: n.DriverOpts, Labels: labels,
		}, s.owner)
		if err != nil {
			return err
		}
		s.desired[swarm.KindNetwork][name] = true
		s.objects.Networks[n.Name] = id
		r.recordChange(ctx, s, change, swarm.KindNetwork, name, nil)
	}
	return nil
}

// sourceNotFoundError: a ConfigMap, Secret or key is missing.
type sourceNotFoundError struct{ error }

func (e sourceNotFoundError) Unwrap() error { return e.error }

// reconcileFiles creates the current version of every config and secret.
// Config files of catalog entries are replaced by a config of the Stack
// with the same name (see desired.Files).
func (r *StackReconciler) reconcileFiles(ctx context.Context, s *stackScope) error {
	files, err := desired.Files(s.stack, s.renderedConfigs, r.keyReader(ctx, s.stack.Namespace))
	if err != nil {
		return err
	}
	for _, f := range files {
		ref, err := r.ensureFile(ctx, s, f.Kind, f.Name, f.Data)
		if err != nil {
			return err
		}
		if f.Kind == swarm.KindConfig {
			s.objects.Configs[f.Name] = ref
		} else {
			s.objects.Secrets[f.Name] = ref
		}
	}
	return nil
}

func (r *StackReconciler) ensureFile(ctx context.Context, s *stackScope, kind, name string, data []byte) (swarm.ObjectRef, error) {
	versioned := swarm.VersionedName(s.objects.Namespace, name, data)
	ref, change, err := s.engine.EnsureFile(ctx, swarm.FileObject{Kind: kind, Name: versioned, Data: data, Labels: s.labels(name)}, s.owner)
	if err != nil {
		return ref, err
	}
	s.desired[kind][versioned] = true
	r.recordChange(ctx, s, change, kind, versioned, nil)
	return ref, nil
}

// keyReader reads one key of a ConfigMap or Secret of a namespace; a
// missing one is a sourceNotFoundError.
func (r *StackReconciler) keyReader(ctx context.Context, namespace string) desired.KeyReader {
	read := desired.Keys(ctx, r.Client, namespace)
	return func(sel kargov1.KeySelector, secret bool) ([]byte, error) {
		data, err := read(sel, secret)
		if err != nil {
			return nil, sourceNotFoundError{err}
		}
		return data, nil
	}
}

// reconcileServices applies every Service, dependencies first. A service
// with dependsOn is created only once its dependencies are Ready. A failure
// of one (a port taken, an unknown network) is reported on it and does not
// stop the others.
func (r *StackReconciler) reconcileServices(ctx context.Context, s *stackScope) error {
	live, err := s.engine.ListServices(ctx, s.owner)
	if err != nil {
		return err
	}
	byName := map[string]swarm.ServiceView{}
	views := func(name string) (swarm.ServiceView, bool, error) {
		if v, ok := byName[name]; ok {
			return v, true, nil
		}
		for _, svc := range live {
			if svc.Spec.Name == name {
				v, err := s.engine.Observe(ctx, svc)
				byName[name] = v
				return v, true, err
			}
		}
		return swarm.ServiceView{}, false, nil
	}
	for i := range s.services {
		svc := &s.services[i]
		name := swarm.ScopedName(s.objects.Namespace, svc.Name)
		if _, exists, _ := views(name); !exists && len(svc.Spec.DependsOn) > 0 {
			var waits []string
			for _, dep := range svc.Spec.DependsOn {
				view, ok, err := views(swarm.ScopedName(s.objects.Namespace, dep))
				if err != nil {
					return err
				}
				if !ok || !view.Ready || s.applied[dep] {
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
	res, err := s.engine.ApplyService(ctx, spec, s.owner, retryFailed)
	if err != nil {
		return err
	}
	s.applied[svc.Name] = res.Change == swarm.Created || res.Change == swarm.Updated
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

func (r *StackReconciler) driftCorrected(ctx context.Context, s *stackScope, kind, format string, args ...any) {
	message := fmt.Sprintf(format, args...)
	metrics.DriftCorrected(s.stack.Namespace, s.stack.Name, kind)
	r.Recorder.Event(s.stack, corev1.EventTypeNormal, "DriftCorrected", message)
	ctrl.LoggerFrom(ctx).Info("drift corrected", "kind", kind, "change", message)
}

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

// observe reads services and their tasks into status.
func (r *StackReconciler) observe(ctx context.Context, s *stackScope) error {
	services, err := s.engine.ListServices(ctx, s.owner)
	if err != nil {
		return err
	}
	live := map[string]swarm.ServiceView{}
	var inventory []kargov1.InventoryEntry
	for _, svc := range services {
		view, err := s.engine.Observe(ctx, svc)
		if err != nil {
			return err
		}
		live[svc.Spec.Name] = view
		inventory = append(inventory, kargov1.InventoryEntry{Kind: swarm.KindService, Name: svc.Spec.Name, ID: svc.ID, Version: svc.Version.Index})
	}
	networks, err := s.engine.ListNetworks(ctx, s.owner)
	if err != nil {
		return err
	}
	for _, n := range networks {
		inventory = append(inventory, kargov1.InventoryEntry{Kind: swarm.KindNetwork, Name: n.Name, ID: n.ID})
	}
	files, err := s.engine.ListFiles(ctx, s.owner)
	if err != nil {
		return err
	}
	for _, f := range files {
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
			state.UpdateState, state.Ready, state.Message = view.UpdateState, view.Ready, view.Message
		}
		state.SpecHash = s.desiredHashes[svc.Name]
		if err := s.serviceErrors[svc.Name]; err != nil {
			state.Ready = false
			state.Message = err.Error()
		} else if waiting, ok := s.waiting[svc.Name]; ok {
			state.Message = waiting
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

// summarize sets the Stack's conditions from the observed services.
func (r *StackReconciler) summarize(s *stackScope) ctrl.Result {
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
		rolledBack = rolledBack || swarm.UpdateFailed(state.UpdateState)
	}
	st.ReadyServices = fmt.Sprintf("%d/%d", ready, len(st.Services))
	if age := time.Since(s.stack.CreationTimestamp.Time); len(st.Services) == 0 && age < emptyStackGrace {
		// A Stack and its Services are usually applied together, the Stack
		// first: `kubectl wait` must not see it Ready before they exist.
		markNotReady(&st.Conditions, gen, kargov1.ServicesNotReadyReason,
			fmt.Sprintf("no Service names this stack yet (Ready with none once it is %s old)", emptyStackGrace), false)
		return ctrl.Result{RequeueAfter: emptyStackGrace - age}
	}
	if len(notReady) == 0 {
		markReady(&st.Conditions, gen, fmt.Sprintf("%d service(s) ready", ready))
		st.ObservedGeneration = gen
		return ctrl.Result{RequeueAfter: jitter(environmentInterval(s.env))}
	}
	message := strings.Join(notReady, "; ")
	switch {
	case conflict:
		markNotReady(&st.Conditions, gen, kargov1.ConflictReason, message, true)
		if converging {
			// The other services are still watched until they converge.
			return ctrl.Result{RequeueAfter: s.convergencePoll()}
		}
		return ctrl.Result{RequeueAfter: time.Minute}
	case len(s.serviceErrors) > 0:
		markNotReady(&st.Conditions, gen, kargov1.ApplyFailedReason, message, false)
	case rolledBack:
		// Swarm gave up on an update; retrying the same spec cannot help.
		markNotReady(&st.Conditions, gen, kargov1.RolledBackReason, message, true)
		st.ObservedGeneration = gen
		return ctrl.Result{RequeueAfter: jitter(environmentInterval(s.env))}
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
			return ctrl.Result{RequeueAfter: jitter(environmentInterval(s.env))}
		}
	}
	return ctrl.Result{RequeueAfter: s.convergencePoll()}
}

// convergencePoll is when to look again at services still converging.
func (s *stackScope) convergencePoll() time.Duration {
	if !s.notReadySince.IsZero() && time.Since(s.notReadySince) < freshConvergence {
		return freshConvergencePoll
	}
	return convergencePoll
}

// timedOut tells whether the Stack has been progressing for longer than spec.timeout.
func (r *StackReconciler) timedOut(s *stackScope) bool {
	c := meta.FindStatusCondition(s.stack.Status.Conditions, kargov1.ReadyCondition)
	return c != nil && c.Status == metav1.ConditionFalse && time.Since(c.LastTransitionTime.Time) > stackTimeout(s.stack)
}

// stackTimeout is spec.timeout, 5m when unset.
func stackTimeout(stack *kargov1.Stack) time.Duration {
	if stack.Spec.Timeout != nil {
		return stack.Spec.Timeout.Duration
	}
	return 5 * time.Minute
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
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

// SetupWithManager registers the controller. Changes of its Services,
// Environment, ConfigMaps, Secrets and dependencies, and Swarm events of its
// objects, reconcile the Stack.
func (r *StackReconciler) SetupWithManager(mgr ctrl.Manager) error {
	ctx := context.Background()
	if err := mgr.GetFieldIndexer().IndexField(ctx, &kargov1.Service{}, serviceStackIndex, func(o client.Object) []string {
		return []string{o.(*kargov1.Service).Spec.StackRef.Name}
	}); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &kargov1.Stack{}, stackEnvIndex, func(o client.Object) []string {
		return []string{o.(*kargov1.Stack).Spec.EnvironmentRef.Name}
	}); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &kargov1.Stack{}, stackDependsOnIndex, func(o client.Object) []string {
		var names []string
		for _, d := range o.(*kargov1.Stack).Spec.DependsOn {
			names = append(names, d.Name)
		}
		return names
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&kargov1.Stack{}).
		// A Stack's status change wakes the Stacks that depend on it.
		Watches(&kargov1.Stack{}, handler.EnqueueRequestsFromMapFunc(r.stacksOf(stackDependsOnIndex))).
		Watches(&kargov1.Service{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: o.(*kargov1.Service).Spec.StackRef.Name}}}
		})).
		Watches(&kargov1.Environment{}, handler.EnqueueRequestsFromMapFunc(r.stacksOf(stackEnvIndex))).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.stacksInNamespace)).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.stacksInNamespace)).
		WatchesRawSource(source.Channel(r.Watchers.Stacks, &handler.EnqueueRequestForObject{})).
		Named("stack").
		Complete(r)
}

func (r *StackReconciler) stacksOf(index string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		return listRequests(ctx, r, &kargov1.StackList{}, o.GetNamespace(), client.MatchingFields{index: o.GetName()})
	}
}

// stacksInNamespace reconciles the Stacks of a ConfigMap's or Secret's
// namespace; the reconcile itself finds out whether content changed, at the
// cost of reads only.
func (r *StackReconciler) stacksInNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	return listRequests(ctx, r, &kargov1.StackList{}, o.GetNamespace())
}
