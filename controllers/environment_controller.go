package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
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

// EnvironmentReconciler connects to each Environment's Swarm and reports what it sees.
type EnvironmentReconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder record.EventRecorder
	Engines  *Engines
	Watchers *Watchers

	// unusedReports remembers the unused variables last reported
	// (environment_unused.go).
	unusedReports unusedReports
}

// +kubebuilder:rbac:groups=swarm.kargo.io,resources=environments,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=environments/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=environments/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets;configmaps,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile checks the endpoint of an Environment and fills its status.
func (r *EnvironmentReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	log := ctrl.LoggerFrom(ctx)
	env := &kargov1.Environment{}
	if err := r.Get(ctx, req.NamespacedName, env); err != nil {
		if apierrors.IsNotFound(err) {
			r.Watchers.Stop(req.NamespacedName)
			r.Engines.Forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if !env.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, env)
	}
	if !controllerutil.ContainsFinalizer(env, kargov1.Finalizer) {
		patch := client.MergeFrom(env.DeepCopy())
		controllerutil.AddFinalizer(env, kargov1.Finalizer)
		return ctrl.Result{}, r.Patch(ctx, env, patch)
	}
	if env.Spec.Suspend {
		log.V(1).Info("suspended")
		base := env.DeepCopy()
		markSuspended(&env.Status.Conditions, env.Generation)
		return ctrl.Result{}, client.IgnoreNotFound(r.Status().Patch(ctx, env, client.MergeFrom(base)))
	}

	base := env.DeepCopy()
	defer func() {
		if err := r.Status().Patch(ctx, env, client.MergeFrom(base)); err != nil && !apierrors.IsNotFound(err) {
			retErr = kerrors.NewAggregate([]error{retErr, fmt.Errorf("patch status: %w", err)})
		}
	}()

	r.reportUnusedVariables(ctx, env)
	info, err := r.connect(ctx, env)
	if err != nil {
		var epErr *swarm.EndpointError
		reason := kargov1.UnreachableReason
		if errors.As(err, &epErr) {
			reason = epErr.Reason
		}
		markNotReady(&env.Status.Conditions, env.Generation, reason, err.Error(), false)
		r.Recorder.Eventf(env, corev1.EventTypeWarning, reason, "%s", err.Error())
		return ctrl.Result{}, err
	}
	env.Status.Swarm = &kargov1.SwarmInfo{
		ClusterID: info.ClusterID, NodeID: info.NodeID,
		Nodes: int32(info.Nodes), Managers: int32(info.Managers),
		EngineVersion: info.EngineVersion, APIVersion: info.APIVersion,
	}
	r.Watchers.Ensure(client.ObjectKeyFromObject(env))
	if err := r.reconcileNodeLabels(ctx, env); err != nil {
		markNotReady(&env.Status.Conditions, env.Generation, kargov1.ApplyFailedReason, err.Error(), false)
		r.Recorder.Eventf(env, corev1.EventTypeWarning, kargov1.ApplyFailedReason, "%s", err.Error())
		return ctrl.Result{}, err
	}
	message := fmt.Sprintf("swarm %s: %d node(s), %d manager(s), engine %s", info.ClusterID, info.Nodes, info.Managers, info.EngineVersion)
	if len(env.Status.MissingNodes) > 0 {
		message += fmt.Sprintf("; nodeLabels name unknown node(s): %s", strings.Join(env.Status.MissingNodes, ", "))
	}
	markReady(&env.Status.Conditions, env.Generation, message)
	env.Status.ObservedGeneration = env.Generation
	interval := environmentInterval(env)
	log.V(1).Info("reconciled", "cluster", info.ClusterID, "nodes", info.Nodes, "next", interval)
	return ctrl.Result{RequeueAfter: jitter(interval)}, nil
}

// reconcileDelete keeps the Environment while Stacks use it: they need its
// endpoint to remove their Swarm objects. Then it removes the node labels
// it set.
func (r *EnvironmentReconciler) reconcileDelete(ctx context.Context, env *kargov1.Environment) (ctrl.Result, error) {
	var stacks kargov1.StackList
	if err := r.List(ctx, &stacks, client.InNamespace(env.Namespace), client.MatchingFields{stackEnvIndex: env.Name}); err != nil {
		return ctrl.Result{}, fmt.Errorf("list stacks: %w", err)
	}
	if len(stacks.Items) > 0 {
		names := make([]string, 0, len(stacks.Items))
		for _, st := range stacks.Items {
			names = append(names, st.Name)
		}
		ctrl.LoggerFrom(ctx).Info("deletion waits for stacks", "stacks", names)
		patch := client.MergeFrom(env.DeepCopy())
		markNotReady(&env.Status.Conditions, env.Generation, kargov1.DeletingReason,
			"waiting for the stacks using it to be deleted: "+strings.Join(names, ", "), false)
		if err := r.Status().Patch(ctx, env, patch); err != nil {
			return ctrl.Result{}, fmt.Errorf("patch status: %w", err)
		}
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	// Best effort, bounded: an unreachable Swarm must not keep the
	// Environment forever.
	labelsCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	env.Spec.NodeLabels = nil
	if err := r.reconcileNodeLabels(labelsCtx, env); err != nil {
		r.Recorder.Eventf(env, corev1.EventTypeWarning, kargov1.ApplyFailedReason, "node labels set by this environment may be left on the nodes: %s", err.Error())
	}
	cancel()
	r.Watchers.Stop(client.ObjectKeyFromObject(env))
	r.Engines.Forget(client.ObjectKeyFromObject(env))
	r.unusedReports.forget(env.UID)
	patch := client.MergeFrom(env.DeepCopy())
	controllerutil.RemoveFinalizer(env, kargov1.Finalizer)
	return ctrl.Result{}, r.Patch(ctx, env, patch)
}

// reconcileNodeLabels sets spec.nodeLabels on the Swarm's nodes and removes
// the labels this Environment set before and no longer wants. A hostname
// that is not a node is reported in status, not fatal: it may join later.
func (r *EnvironmentReconciler) reconcileNodeLabels(ctx context.Context, env *kargov1.Environment) error {
	engine, err := r.Engines.For(ctx, r.Client, env)
	if err != nil {
		return err
	}
	wanted := make(map[string]map[string]string, len(env.Spec.NodeLabels))
	for _, n := range env.Spec.NodeLabels {
		wanted[n.Hostname] = n.Labels
	}
	result, err := engine.ReconcileNodeLabels(ctx, env.Namespace+"."+env.Name, wanted)
	if err != nil {
		return fmt.Errorf("node labels: %w", err)
	}
	for _, hostname := range result.Updated {
		r.Recorder.Eventf(env, corev1.EventTypeNormal, "Updated", "labels of node %s updated", hostname)
	}
	if len(result.Missing) > 0 && !slices.Equal(result.Missing, env.Status.MissingNodes) {
		r.Recorder.Eventf(env, corev1.EventTypeWarning, "NodeNotFound", "nodeLabels name hostname(s) that are not Swarm nodes: %s", strings.Join(result.Missing, ", "))
	}
	env.Status.MissingNodes = result.Missing
	return nil
}

// connect pings the engine through the cached client.
func (r *EnvironmentReconciler) connect(ctx context.Context, env *kargov1.Environment) (swarm.Info, error) {
	cli, err := r.Engines.For(ctx, r.Client, env)
	if err != nil {
		return swarm.Info{}, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	info, err := cli.Ping(pingCtx)
	if err != nil {
		var swErr *swarm.EndpointError
		if errors.As(err, &swErr) {
			return swarm.Info{}, &swarm.EndpointError{Reason: swErr.Reason, Err: fmt.Errorf("%s: %w", env.Spec.Endpoint.Host, err)}
		}
		return swarm.Info{}, err
	}
	return info, nil
}

func environmentInterval(env *kargov1.Environment) time.Duration {
	if env.Spec.Interval != nil && env.Spec.Interval.Duration > 0 {
		return env.Spec.Interval.Duration
	}
	return 10 * time.Minute
}

// SetupWithManager registers the controller; a change of a TLS Secret, of
// a ConfigMap or Secret of variablesFrom, or of a Stack's spec (what its
// Stacks read) reconciles the Environments that use it.
func (r *EnvironmentReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &kargov1.Environment{}, tlsSecretIndex, func(o client.Object) []string {
		if ref := o.(*kargov1.Environment).Spec.Endpoint.TLSSecretRef; ref != nil {
			return []string{ref.Name}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &kargov1.Environment{}, variablesFromIndex, func(o client.Object) []string {
		var names []string
		for _, from := range o.(*kargov1.Environment).Spec.VariablesFrom {
			if from.ConfigMapRef != nil {
				names = append(names, from.ConfigMapRef.Name)
			}
			if from.SecretRef != nil {
				names = append(names, from.SecretRef.Name)
			}
		}
		return names
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&kargov1.Environment{}).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.environmentsForSecret)).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.environmentsOf(variablesFromIndex))).
		Watches(&kargov1.Stack{}, handler.EnqueueRequestsFromMapFunc(r.environmentsOfStack), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesRawSource(source.Channel(r.Watchers.Environments, &handler.EnqueueRequestForObject{})).
		Named("environment").
		WithOptions(opts).
		Complete(r)
}

func (r *EnvironmentReconciler) environmentsForSecret(ctx context.Context, o client.Object) []reconcile.Request {
	return append(r.environmentsOf(tlsSecretIndex)(ctx, o), r.environmentsOf(variablesFromIndex)(ctx, o)...)
}

// environmentsOf maps an object to the Environments whose index names it.
func (r *EnvironmentReconciler) environmentsOf(index string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		return listRequests(ctx, r, &kargov1.EnvironmentList{}, o.GetNamespace(), client.MatchingFields{index: o.GetName()})
	}
}
