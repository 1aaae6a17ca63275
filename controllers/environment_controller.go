package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/swarm"
)

const (
	tlsSecretIndex     = ".spec.endpoint.tlsSecretRef.name"
	variablesFromIndex = ".spec.variablesFrom.name"
)

// EnvironmentReconciler connects to the Swarm of each Environment (Kind
// Environment) or ClusterEnvironment (Kind ClusterEnvironment) and reports
// what it sees: one reconciler type, registered once per kind.
type EnvironmentReconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder record.EventRecorder
	Engines  *Engines
	Watchers *Watchers
	// Kind is kargov1.EnvironmentKind or kargov1.ClusterEnvironmentKind.
	Kind     string
	Settings Settings

	// unusedReports remembers the unused variables last reported
	// (environment_unused.go).
	unusedReports unusedReports
}

// +kubebuilder:rbac:groups=swarm.kargo.io,resources=environments;clusterenvironments,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=environments/status;clusterenvironments/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=environments/finalizers;clusterenvironments/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets;configmaps,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// newObject returns an empty object of the reconciler's kind.
func (r *EnvironmentReconciler) newObject() kargov1.EnvironmentObject {
	if r.Kind == kargov1.ClusterEnvironmentKind {
		return &kargov1.ClusterEnvironment{}
	}
	return &kargov1.Environment{}
}

// Reconcile checks the endpoint of an Environment and fills its status.
func (r *EnvironmentReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	log := ctrl.LoggerFrom(ctx)
	env := r.newObject()
	if err := r.Get(ctx, req.NamespacedName, env); err != nil {
		if apierrors.IsNotFound(err) {
			r.Watchers.Stop(req.NamespacedName)
			r.Engines.Forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	spec, status := env.EnvironmentSpec(), env.EnvironmentStatus()
	if !env.GetDeletionTimestamp().IsZero() {
		return r.reconcileDelete(ctx, env)
	}
	if !controllerutil.ContainsFinalizer(env, kargov1.Finalizer) {
		patch := client.MergeFrom(env.DeepCopyObject().(client.Object))
		controllerutil.AddFinalizer(env, kargov1.Finalizer)
		return ctrl.Result{}, r.Patch(ctx, env, patch)
	}
	if spec.Suspend {
		log.V(1).Info("suspended")
		patch := client.MergeFrom(env.DeepCopyObject().(client.Object))
		markSuspended(&status.Conditions, env.GetGeneration(), suspendedMessage)
		return ctrl.Result{}, client.IgnoreNotFound(r.Status().Patch(ctx, env, patch))
	}

	base := env.DeepCopyObject().(kargov1.EnvironmentObject)
	defer func() {
		patch := client.MergeFrom(base)
		if !equality.Semantic.DeepEqual(base.EnvironmentStatus().OrphanedOwners, status.OrphanedOwners) {
			// Stacks add entries as this reconcile removes others.
			patch = client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})
		}
		if err := r.Status().Patch(ctx, env, patch); err != nil && !apierrors.IsNotFound(err) {
			retErr = kerrors.NewAggregate([]error{retErr, fmt.Errorf("patch status: %w", err)})
		}
	}()

	r.reportUnusedVariables(ctx, env)
	info, err := r.connect(ctx, env)
	if err != nil {
		reason, stalled := endpointFailure(err)
		markNotReady(&status.Conditions, env.GetGeneration(), reason, swarm.ErrorText(err), stalled)
		r.Recorder.Eventf(env, corev1.EventTypeWarning, reason, "%s", swarm.ErrorText(err))
		if stalled {
			// A change of the Environment reconciles it again.
			r.Watchers.Stop(client.ObjectKeyFromObject(env))
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	var wasUnavailable []string
	if status.Swarm != nil {
		wasUnavailable = status.Swarm.UnavailableNodes
	}
	status.Swarm = &kargov1.SwarmInfo{
		ClusterID: info.ClusterID, NodeID: info.NodeID,
		Nodes: int32(info.Nodes), Managers: int32(info.Managers),
		EngineVersion: info.EngineVersion, APIVersion: info.APIVersion,
		// Kept until the node pass below has seen the nodes again.
		UnavailableNodes: wasUnavailable,
	}
	r.Watchers.Ensure(client.ObjectKeyFromObject(env))
	r.removeOrphans(ctx, env)
	nodes, err := r.reconcileNodes(ctx, env)
	if err != nil {
		markNotReady(&status.Conditions, env.GetGeneration(), kargov1.ApplyFailedReason, swarm.ErrorText(err), false)
		r.Recorder.Eventf(env, corev1.EventTypeWarning, kargov1.ApplyFailedReason, "%s", swarm.ErrorText(err))
		return ctrl.Result{}, err
	}
	message := fmt.Sprintf("swarm %s: %d node(s), %d manager(s), engine %s", info.ClusterID, info.Nodes, info.Managers, info.EngineVersion)
	if len(status.MissingNodes) > 0 {
		message += fmt.Sprintf("; nodeLabels name unknown node(s): %s", strings.Join(status.MissingNodes, ", "))
	}
	r.reportUnavailableNodes(env, wasUnavailable, nodes.Unavailable)
	if len(nodes.Unavailable) > 0 {
		message += fmt.Sprintf("; unavailable node(s): %s", strings.Join(nodes.Unavailable, ", "))
	}
	markReady(&status.Conditions, env.GetGeneration(), message)
	status.ObservedGeneration = env.GetGeneration()
	interval := environmentInterval(spec)
	if len(status.OrphanedOwners) > 0 {
		interval = min(interval, orphanRetry)
	}
	log.V(1).Info("reconciled", "cluster", info.ClusterID, "nodes", info.Nodes, "next", interval)
	return ctrl.Result{RequeueAfter: jitter(interval)}, nil
}

// stacksOf lists the Stacks deployed with env (for a ClusterEnvironment,
// in every namespace).
func stacksOf(ctx context.Context, c client.Reader, env types.NamespacedName) ([]kargov1.Stack, error) {
	var stacks kargov1.StackList
	if err := c.List(ctx, &stacks, client.InNamespace(env.Namespace), client.MatchingFields{stackEnvIndex: env.String()}); err != nil {
		return nil, fmt.Errorf("list stacks: %w", err)
	}
	return stacks.Items, nil
}

// reconcileDelete keeps the Environment while Stacks use it: they need its
// endpoint to remove their Swarm objects. Then it removes the node labels
// it set.
func (r *EnvironmentReconciler) reconcileDelete(ctx context.Context, env kargov1.EnvironmentObject) (ctrl.Result, error) {
	stacks, err := stacksOf(ctx, r, client.ObjectKeyFromObject(env))
	if err != nil {
		return ctrl.Result{}, err
	}
	if len(stacks) > 0 {
		names := make([]string, 0, len(stacks))
		for _, st := range stacks {
			name := st.Name
			if env.GetNamespace() == "" {
				// A ClusterEnvironment's Stacks live in many namespaces.
				name = st.Namespace + "/" + st.Name
			}
			names = append(names, name)
		}
		ctrl.LoggerFrom(ctx).Info("deletion waits for stacks", "stacks", names)
		patch := client.MergeFrom(env.DeepCopyObject().(client.Object))
		markNotReady(&env.EnvironmentStatus().Conditions, env.GetGeneration(), kargov1.DeletingReason,
			"waiting for the stacks using it to be deleted: "+strings.Join(names, ", "), false)
		if err := r.Status().Patch(ctx, env, patch); err != nil {
			return ctrl.Result{}, fmt.Errorf("patch status: %w", err)
		}
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	// Best effort, bounded: an unreachable Swarm must not keep the
	// Environment forever.
	labelsCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	env.EnvironmentSpec().NodeLabels = nil
	if _, err := r.reconcileNodes(labelsCtx, env); err != nil {
		r.Recorder.Eventf(env, corev1.EventTypeWarning, kargov1.ApplyFailedReason, "node labels set by this environment may be left on the nodes: %s", swarm.ErrorText(err))
	}
	cancel()
	r.Watchers.Stop(client.ObjectKeyFromObject(env))
	r.Engines.Forget(client.ObjectKeyFromObject(env))
	r.unusedReports.forget(env.GetUID())
	patch := client.MergeFrom(env.DeepCopyObject().(client.Object))
	controllerutil.RemoveFinalizer(env, kargov1.Finalizer)
	return ctrl.Result{}, r.Patch(ctx, env, patch)
}

// connect pings the engine through the cached client.
func (r *EnvironmentReconciler) connect(ctx context.Context, env kargov1.EnvironmentObject) (swarm.Info, error) {
	cli, err := r.Engines.For(ctx, r.Client, env)
	if err != nil {
		return swarm.Info{}, err
	}
	// Bounded by the client's request timeout.
	info, err := cli.Ping(ctx)
	if err != nil {
		var swErr *swarm.EndpointError
		if errors.As(err, &swErr) {
			return swarm.Info{}, &swarm.EndpointError{Reason: swErr.Reason, Err: fmt.Errorf("%s: %w", env.EnvironmentSpec().Endpoint.Host, err)}
		}
		return swarm.Info{}, err
	}
	return info, nil
}

func environmentInterval(spec *kargov1.EnvironmentSpec) time.Duration {
	if spec.Interval != nil && spec.Interval.Duration > 0 {
		return spec.Interval.Duration
	}
	return 10 * time.Minute
}

// SetupWithManager registers the controller of r.Kind; a change of a TLS
// Secret, of a ConfigMap or Secret of variablesFrom, or of a Stack's spec
// (what its Stacks read) reconciles the Environments that use it.
func (r *EnvironmentReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	indexes := map[string]func(*kargov1.EnvironmentSpec) []string{
		tlsSecretIndex: func(spec *kargov1.EnvironmentSpec) []string {
			if ref := spec.Endpoint.TLSSecretRef; ref != nil {
				return []string{ref.Name}
			}
			return nil
		},
		variablesFromIndex: func(spec *kargov1.EnvironmentSpec) []string {
			var names []string
			for _, from := range spec.VariablesFrom {
				if from.ConfigMapRef != nil {
					names = append(names, from.ConfigMapRef.Name)
				}
				if from.SecretRef != nil {
					names = append(names, from.SecretRef.Name)
				}
			}
			return names
		},
	}
	for name, values := range indexes {
		if err := mgr.GetFieldIndexer().IndexField(context.Background(), r.newObject(), name, func(o client.Object) []string {
			return values(o.(kargov1.EnvironmentObject).EnvironmentSpec())
		}); err != nil {
			return err
		}
	}
	events := r.Watchers.Environments
	if r.Kind == kargov1.ClusterEnvironmentKind {
		events = r.Watchers.ClusterEnvironments
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(r.newObject()).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.environmentsForSecret)).
		WatchesMetadata(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.environmentsOf(variablesFromIndex))).
		Watches(&kargov1.Stack{}, handler.EnqueueRequestsFromMapFunc(r.environmentsOfStack), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesRawSource(source.Channel(events, &handler.EnqueueRequestForObject{})).
		Named(strings.ToLower(r.Kind)).
		WithOptions(opts).
		Complete(r)
}

func (r *EnvironmentReconciler) environmentsForSecret(ctx context.Context, o client.Object) []reconcile.Request {
	return append(r.environmentsOf(tlsSecretIndex)(ctx, o), r.environmentsOf(variablesFromIndex)(ctx, o)...)
}

// environmentsOf maps a ConfigMap or Secret to the Environments of its
// namespace whose index names it, or to the ClusterEnvironments when it is
// in the manager's namespace.
func (r *EnvironmentReconciler) environmentsOf(index string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		if r.Kind == kargov1.ClusterEnvironmentKind {
			if o.GetNamespace() != r.Settings.ClusterResourceNamespace {
				return nil
			}
			return listRequests(ctx, r, &kargov1.ClusterEnvironmentList{}, "", client.MatchingFields{index: o.GetName()})
		}
		return listRequests(ctx, r, &kargov1.EnvironmentList{}, o.GetNamespace(), client.MatchingFields{index: o.GetName()})
	}
}
