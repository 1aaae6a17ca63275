package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/desired"
	"github.com/kargo-io/kargo/internal/metrics"
	"github.com/kargo-io/kargo/internal/swarm"
)

const (
	serviceStackIndex   = ".spec.stackRef.name"
	stackEnvIndex       = ".spec.environmentRef.name"
	stackDependsOnIndex = ".spec.dependsOn.name"
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
	Settings  Settings
}

// +kubebuilder:rbac:groups=swarm.kargo.io,resources=stacks,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=stacks/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=stacks/finalizers,verbs=update
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=services,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// Reconcile makes the Swarm match a Stack.
func (r *StackReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	start := time.Now()
	log := ctrl.LoggerFrom(ctx)
	stack := &kargov1.Stack{}
	if err := r.Get(ctx, req.NamespacedName, stack); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	defer func() {
		if controllerutil.ContainsFinalizer(stack, kargov1.Finalizer) {
			metrics.StackReconciled(stack.Namespace, stack.Name, time.Since(start))
		}
	}()
	if !controllerutil.ContainsFinalizer(stack, kargov1.Finalizer) && stack.DeletionTimestamp.IsZero() {
		patch := client.MergeFrom(stack.DeepCopy())
		controllerutil.AddFinalizer(stack, kargov1.Finalizer)
		return ctrl.Result{}, r.Patch(ctx, stack, patch)
	}
	if stack.Spec.Suspend && stack.DeletionTimestamp.IsZero() {
		log.V(1).Info("suspended")
		base := stack.DeepCopy()
		markSuspended(&stack.Status.Conditions, stack.Generation, suspendedMessage)
		// The request was handled: by deciding to do nothing.
		if v, ok := stack.Annotations[kargov1.ReconcileRequestAnnotation]; ok {
			stack.Status.LastHandledReconcileAt = v
		}
		return ctrl.Result{}, client.IgnoreNotFound(r.Status().Patch(ctx, stack, client.MergeFrom(base)))
	}

	base := stack.DeepCopy()
	scope := newStackScope(stack)
	defer func() {
		if v, ok := stack.Annotations[kargov1.ReconcileRequestAnnotation]; ok {
			stack.Status.LastHandledReconcileAt = v
		}
		r.recordReadiness(scope)
		if equality.Semantic.DeepEqual(base.Status, stack.Status) {
			return // nothing new: no request
		}
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

// reconcile runs the phases in order; each returns an error wrapped with context.
func (r *StackReconciler) reconcile(ctx context.Context, s *stackScope) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	gen := s.stack.Generation
	markReconciling(&s.stack.Status.Conditions, gen, kargov1.ProgressingReason, "reconciling")
	if err := r.resolveEnvironment(ctx, s); err != nil {
		var notAllowed notAllowedError
		if errors.As(err, &notAllowed) {
			// Allowing the namespace (a change of the ClusterEnvironment or
			// of the namespace's labels) reconciles the Stack again.
			markNotReady(&s.stack.Status.Conditions, gen, kargov1.NotAllowedReason, swarm.ErrorText(err), true)
			return ctrl.Result{}, nil
		}
		var suspended environmentSuspendedError
		if errors.As(err, &suspended) {
			// Resuming the Environment enqueues its Stacks (a watch).
			log.V(1).Info("environment suspended")
			markSuspended(&s.stack.Status.Conditions, gen, err.Error())
			return ctrl.Result{}, nil
		}
		markNotReady(&s.stack.Status.Conditions, gen, kargov1.EnvironmentNotReadyReason, swarm.ErrorText(err), false)
		return ctrl.Result{RequeueAfter: 10 * time.Second}, nil
	}
	if err := r.checkDependencies(ctx, s); err != nil {
		var notReady dependencyNotReadyError
		if errors.As(err, &notReady) {
			// Nothing is created or changed until the dependencies are
			// Ready; their status changes enqueue this Stack.
			markNotReady(&s.stack.Status.Conditions, gen, kargov1.DependencyNotReadyReason, swarm.ErrorText(err), false)
			return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
		}
		return r.fail(s, err)
	}
	for _, phase := range []func(context.Context, *stackScope) error{
		r.listServiceObjects, r.renderServices, r.collectServices, r.checkPolicy, r.reconcileNamingKey, r.listOwned,
		r.reconcileNetworks, r.reconcileFiles, r.reconcileServices, r.prune,
		r.observe,
	} {
		if err := phase(ctx, s); err != nil {
			return r.fail(s, err)
		}
	}
	return r.summarize(s)
}

// fail reports err on the Stack. Invalid specs and conflicts stall (a
// change of the Stack or Swarm retries); the rest is retried with backoff,
// and stalls once it has failed for longer than spec.timeout.
func (r *StackReconciler) fail(s *stackScope, err error) (ctrl.Result, error) {
	reason, stalled := classifyError(err)
	r.Recorder.Eventf(s.stack, corev1.EventTypeWarning, reason, "%s", swarm.ErrorText(err))
	if !stalled {
		r.markFailed(s, reason, swarm.ErrorText(err))
		return ctrl.Result{}, err
	}
	markNotReady(&s.stack.Status.Conditions, s.stack.Generation, reason, swarm.ErrorText(err), true)
	// Conflicts and bad references can be fixed outside Kubernetes: look
	// again later rather than never.
	return ctrl.Result{RequeueAfter: time.Minute}, nil
}
