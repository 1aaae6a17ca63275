package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// ServiceReconciler reports on each Service what its Stack observed of it on
// the Swarm. The Stack reconciler applies Services (networks, configs and
// pruning need the whole Stack); this one keeps each Service's own status
// true so `kubectl wait --for=condition=Ready service/x` works.
type ServiceReconciler struct {
	client.Client
	Scheme *runtime.Scheme
}

// +kubebuilder:rbac:groups=swarm.kargo.io,resources=services,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=services/status,verbs=get;update;patch

// Reconcile copies the Stack's observation of a Service into its status.
func (r *ServiceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	svc := &kargov1.Service{}
	if err := r.Get(ctx, req.NamespacedName, svc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	base := svc.DeepCopy()
	defer func() {
		// A Stack's status changes reconcile all its Services; most of them
		// have nothing new to report, and an empty patch still costs the
		// API server a request.
		if equality.Semantic.DeepEqual(base.Status, svc.Status) {
			return
		}
		if err := r.Status().Patch(ctx, svc, client.MergeFrom(base)); err != nil && !apierrors.IsNotFound(err) {
			retErr = kerrors.NewAggregate([]error{retErr, fmt.Errorf("patch status: %w", err)})
		}
	}()
	gen := svc.Generation
	stack := &kargov1.Stack{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: svc.Namespace, Name: svc.Spec.StackRef.Name}, stack); err != nil {
		if apierrors.IsNotFound(err) {
			markNotReady(&svc.Status.Conditions, gen, kargov1.StackNotFoundReason, fmt.Sprintf("stack %s not found", svc.Spec.StackRef.Name), true)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if stack.Status.ObservedGeneration == 0 && meta.FindStatusCondition(stack.Status.Conditions, kargov1.ReadyCondition) == nil {
		markReconciling(&svc.Status.Conditions, gen, kargov1.ProgressingReason, "waiting for stack "+stack.Name)
		return ctrl.Result{}, nil
	}
	var state *kargov1.ServiceState
	for i := range stack.Status.Services {
		if stack.Status.Services[i].Name == svc.Name {
			state = &stack.Status.Services[i]
		}
	}
	if state == nil {
		// The Stack has not taken this Service (or this generation) in yet.
		markReconciling(&svc.Status.Conditions, gen, kargov1.ProgressingReason, "waiting for stack "+stack.Name)
		return ctrl.Result{}, nil
	}
	svc.Status.ServiceState = *state
	switch {
	case state.Ready:
		markReady(&svc.Status.Conditions, gen, fmt.Sprintf("%s tasks running", state.Replicas))
		svc.Status.ObservedGeneration = gen
	default:
		reason := kargov1.ServicesNotReadyReason
		if c := meta.FindStatusCondition(stack.Status.Conditions, kargov1.ReadyCondition); c != nil && c.Reason != kargov1.ReconciledReason {
			reason = c.Reason
		}
		markNotReady(&svc.Status.Conditions, gen, reason, orDefault(state.Message, state.Replicas+" tasks running"), false)
		markReconciling(&svc.Status.Conditions, gen, kargov1.ProgressingReason, "converging")
	}
	return ctrl.Result{}, nil
}

// SetupWithManager registers the controller; a Stack's status change
// reconciles its Services.
func (r *ServiceReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&kargov1.Service{}).
		Watches(&kargov1.Stack{}, handler.EnqueueRequestsFromMapFunc(r.servicesOfStack)).
		Named("service").
		WithOptions(opts).
		Complete(r)
}

func (r *ServiceReconciler) servicesOfStack(ctx context.Context, o client.Object) []reconcile.Request {
	return listRequests(ctx, r, &kargov1.ServiceList{}, o.GetNamespace(), client.MatchingFields{serviceStackIndex: o.GetName()})
}
