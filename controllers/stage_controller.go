package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// StageReconciler reports how a Stage is doing (the health of its target
// Stacks, the Promotion underway or the last one) and, with
// spec.autoPromotion, promotes the newest eligible Freight. What a Stage
// holds (currentFreight, freightHistory, lastPromotion) is written by the
// Promotion reconciler when a Promotion ends.
type StageReconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder record.EventRecorder
}

// +kubebuilder:rbac:groups=swarm.kargo.io,resources=stages,verbs=get;list;watch
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=stages/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=freights,verbs=get;list;watch
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=promotions,verbs=get;list;watch;create

// stageScope is what the phases of one Stage reconcile share.
type stageScope struct {
	stage *kargov1.Stage
	// promotions of the Stage; running is the unfinished one that runs
	// or runs next, if any.
	promotions []kargov1.Promotion
	running    *kargov1.Promotion
}

// Reconcile reports a Stage's health and conditions and auto-promotes.
func (r *StageReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	stage := &kargov1.Stage{}
	if err := r.Get(ctx, req.NamespacedName, stage); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !stage.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil // its Promotions go with it (owner references)
	}
	base := stage.DeepCopy()
	defer func() {
		stage.Status.ObservedGeneration = stage.Generation
		if equality.Semantic.DeepEqual(base.Status, stage.Status) {
			return
		}
		// Only the fields this reconciler owns are in the patch; the
		// Promotion reconciler writes the others.
		if err := r.Status().Patch(ctx, stage, client.MergeFrom(base)); err != nil && !apierrors.IsNotFound(err) {
			retErr = kerrors.NewAggregate([]error{retErr, fmt.Errorf("patch status: %w", err)})
		}
	}()
	s := &stageScope{stage: stage}
	if err := r.listPromotions(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.autoPromote(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	health, why, err := r.health(ctx, s)
	if err != nil {
		return ctrl.Result{}, err
	}
	stage.Status.Health = health
	r.summarize(s, why)
	return ctrl.Result{}, nil
}

// listPromotions lists the Stage's Promotions and finds the one underway.
func (r *StageReconciler) listPromotions(ctx context.Context, s *stageScope) error {
	var list kargov1.PromotionList
	if err := r.List(ctx, &list, client.InNamespace(s.stage.Namespace), client.MatchingFields{promotionStageIndex: s.stage.Name}); err != nil {
		return fmt.Errorf("list promotions: %w", err)
	}
	s.promotions = list.Items
	for i := range s.promotions {
		p := &s.promotions[i]
		if p.Status.Phase.Terminal() {
			continue
		}
		if s.running == nil || p.Status.Phase == kargov1.PromotionRunning || (s.running.Status.Phase != kargov1.PromotionRunning && runsBefore(p, s.running)) {
			s.running = p
		}
	}
	return nil
}

// SetupWithManager registers the reconciler. A Stage is looked at again
// when one of its Promotions changes, when Freight of its namespace
// appears or is verified (auto-promotion), and when a Stack of its
// namespace changes (health).
func (r *StageReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&kargov1.Stage{}).
		Watches(&kargov1.Promotion{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: o.(*kargov1.Promotion).Spec.Stage}}}
		})).
		Watches(&kargov1.Freight{}, handler.EnqueueRequestsFromMapFunc(r.stagesOfNamespace)).
		Watches(&kargov1.Stack{}, handler.EnqueueRequestsFromMapFunc(r.stagesOfNamespace)).
		WithOptions(opts).
		Complete(r)
}

func (r *StageReconciler) stagesOfNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	return listRequests(ctx, r, &kargov1.StageList{}, o.GetNamespace())
}
