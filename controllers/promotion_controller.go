package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

const (
	// promotionStageIndex indexes Promotions by spec.stage.
	promotionStageIndex = ".spec.stage"
	// promotionPoll is how often a running Promotion looks at its targets
	// (Stack changes also wake it).
	promotionPoll = 2 * time.Second
	// promotionQueuePoll is how often a queued Promotion checks its turn,
	// besides being woken when the Promotion before it ends.
	promotionQueuePoll = 30 * time.Second
)

// PromotionReconciler carries out Promotions, one at a time per Stage in
// creation order: it sets the Freight's images on the Stage's target
// Stacks, waits for them to be Ready, verifies (a soak, then the optional
// job), and records the outcome on the Stage and the Freight; a failed
// verification promotes the previous Freight back.
type PromotionReconciler struct {
	client.Client
	// APIReader reads Promotions, and the Stage and Freight a Promotion
	// records its outcome on, from the API server: a reconcile that read a
	// stale cached Promotion would run a step again (and count it twice).
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  record.EventRecorder
	Engines   *Engines
	Settings  Settings
	// startMu serializes the start of Promotions (see start).
	startMu sync.Mutex
}

// +kubebuilder:rbac:groups=swarm.kargo.io,resources=promotions,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=promotions/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=promotions/finalizers,verbs=update
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=stages,verbs=get;list;watch
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=stages/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=freights,verbs=get;list;watch
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=freights/status,verbs=get;update;patch

// promotionScope is what the steps of one reconcile share.
type promotionScope struct {
	promotion *kargov1.Promotion
	stage     *kargov1.Stage
	freight   *kargov1.Freight
}

// Reconcile advances a Promotion by one step at most.
func (r *PromotionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	p := &kargov1.Promotion{}
	if err := r.Get(ctx, req.NamespacedName, p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if p.Status.Phase.Terminal() && p.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil // the cache may lag, but never un-ends a Promotion
	}
	if err := r.APIReader.Get(ctx, req.NamespacedName, p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !p.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.reconcileDelete(ctx, p)
	}
	if p.Status.Phase.Terminal() {
		return ctrl.Result{}, nil
	}
	base := p.DeepCopy()
	defer func() {
		if equality.Semantic.DeepEqual(base.Status, p.Status) {
			return
		}
		if err := r.Status().Patch(ctx, p, client.MergeFrom(base)); err != nil && !apierrors.IsNotFound(err) {
			retErr = kerrors.NewAggregate([]error{retErr, fmt.Errorf("patch status: %w", err)})
		}
	}()
	s := &promotionScope{promotion: p}
	if p.Status.Phase == "" || p.Status.Phase == kargov1.PromotionPending {
		started, err := r.start(ctx, s)
		if err != nil || p.Status.Phase.Terminal() {
			return ctrl.Result{}, err
		}
		if !started {
			return ctrl.Result{RequeueAfter: promotionQueuePoll}, nil
		}
	} else if err := r.load(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	if p.Status.Phase.Terminal() {
		return ctrl.Result{}, nil
	}
	return r.runStep(ctx, s)
}

// load reads the Stage and Freight of a running Promotion.
func (r *PromotionReconciler) load(ctx context.Context, s *promotionScope) error {
	p := s.promotion
	s.stage, s.freight = &kargov1.Stage{}, &kargov1.Freight{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: p.Spec.Stage}, s.stage); err != nil {
		if apierrors.IsNotFound(err) {
			return r.finish(ctx, s, kargov1.PromotionErrored, fmt.Sprintf("Stage %s was deleted", p.Spec.Stage))
		}
		return fmt.Errorf("get stage %s: %w", p.Spec.Stage, err)
	}
	if err := r.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: p.Spec.Freight}, s.freight); err != nil {
		if apierrors.IsNotFound(err) {
			return r.finish(ctx, s, kargov1.PromotionErrored, fmt.Sprintf("Freight %s was deleted", p.Spec.Freight))
		}
		return fmt.Errorf("get freight %s: %w", p.Spec.Freight, err)
	}
	return nil
}

// runStep runs the current step and moves to the next when it is done.
func (r *PromotionReconciler) runStep(ctx context.Context, s *promotionScope) (ctrl.Result, error) {
	step := currentStep(s.promotion)
	if step == nil {
		return ctrl.Result{}, fmt.Errorf("running promotion without a running step")
	}
	var (
		done bool
		wait time.Duration
		err  error
	)
	switch step.Name {
	case kargov1.StepSetImages:
		done, err = r.setImages(ctx, s)
	case kargov1.StepWaitReady:
		done, wait, err = r.waitReady(ctx, s, step)
	case kargov1.StepVerify:
		done, wait, err = r.verify(ctx, s, step)
	default:
		return ctrl.Result{}, fmt.Errorf("unknown step %s", step.Name)
	}
	if err != nil || s.promotion.Status.Phase.Terminal() {
		return ctrl.Result{}, err
	}
	if !done {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	switch step.Name {
	case kargov1.StepSetImages:
		startStep(s.promotion, kargov1.StepWaitReady)
	case kargov1.StepWaitReady:
		startStep(s.promotion, kargov1.StepVerify)
	case kargov1.StepVerify:
		return ctrl.Result{}, r.finish(ctx, s, kargov1.PromotionSucceeded, fmt.Sprintf("%s runs on Stage %s, verified", freightDisplay(s.freight), s.stage.Name))
	}
	return ctrl.Result{RequeueAfter: time.Second}, nil
}

// currentStep is the step underway (the last one, while Running).
func currentStep(p *kargov1.Promotion) *kargov1.PromotionStep {
	if n := len(p.Status.Steps); n > 0 && p.Status.Steps[n-1].Phase == kargov1.PromotionRunning {
		return &p.Status.Steps[n-1]
	}
	return nil
}

func startStep(p *kargov1.Promotion, name string) {
	now := metav1.Now()
	p.Status.Steps = append(p.Status.Steps, kargov1.PromotionStep{Name: name, Phase: kargov1.PromotionRunning, StartedAt: &now})
	p.Status.Message = "step " + name
}

// endStep ends the step underway with a phase and a message.
func endStep(p *kargov1.Promotion, phase kargov1.PromotionPhase, message string) {
	if step := currentStep(p); step != nil {
		now := metav1.Now()
		step.Phase, step.FinishedAt, step.Message = phase, &now, truncate(message)
	}
}

// stepStarted is when a step named so began (zero when it did not).
func stepStarted(p *kargov1.Promotion, name string) time.Time {
	for _, step := range p.Status.Steps {
		if step.Name == name && step.StartedAt != nil {
			return step.StartedAt.Time
		}
	}
	return time.Time{}
}

// reconcileDelete removes the verification job of a Promotion deleted
// while running, then lets it go.
func (r *PromotionReconciler) reconcileDelete(ctx context.Context, p *kargov1.Promotion) error {
	if !controllerutil.ContainsFinalizer(p, kargov1.Finalizer) {
		return nil
	}
	if err := r.removeJob(ctx, &promotionScope{promotion: p}); err != nil {
		return err
	}
	patch := client.MergeFrom(p.DeepCopy())
	controllerutil.RemoveFinalizer(p, kargov1.Finalizer)
	return client.IgnoreNotFound(r.Patch(ctx, p, patch))
}

// SetupWithManager registers the reconciler. A Promotion wakes when the
// one before it in its Stage's queue ends, and when a target Stack
// changes.
func (r *PromotionReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&kargov1.Promotion{}).
		Watches(&kargov1.Promotion{}, handler.EnqueueRequestsFromMapFunc(r.queuedBehind), builder.WithPredicates(predicate.Funcs{
			CreateFunc:  func(event.CreateEvent) bool { return false },
			GenericFunc: func(event.GenericEvent) bool { return false },
		})).
		Watches(&kargov1.Stack{}, handler.EnqueueRequestsFromMapFunc(r.runningIn)).
		WithOptions(opts).
		Complete(r)
}

// queuedBehind maps a Promotion to the other unfinished Promotions of its
// Stage: when it ends (or goes), the next one may start.
func (r *PromotionReconciler) queuedBehind(ctx context.Context, o client.Object) []reconcile.Request {
	p := o.(*kargov1.Promotion)
	if !p.Status.Phase.Terminal() && p.DeletionTimestamp.IsZero() {
		return nil
	}
	return r.unfinished(ctx, p.Namespace, client.MatchingFields{promotionStageIndex: p.Spec.Stage})
}

// runningIn maps a Stack to the unfinished Promotions of its namespace.
func (r *PromotionReconciler) runningIn(ctx context.Context, o client.Object) []reconcile.Request {
	return r.unfinished(ctx, o.GetNamespace())
}

func (r *PromotionReconciler) unfinished(ctx context.Context, namespace string, opts ...client.ListOption) []reconcile.Request {
	var list kargov1.PromotionList
	if err := r.List(ctx, &list, append(opts, client.InNamespace(namespace))...); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "list promotions", "namespace", namespace)
		return nil
	}
	var reqs []reconcile.Request
	for _, p := range list.Items {
		if !p.Status.Phase.Terminal() {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&p)})
		}
	}
	return reqs
}

// indexPromotions indexes Promotions by Stage, for the Stage and
// Promotion reconcilers.
func indexPromotions(mgr ctrl.Manager) error {
	return mgr.GetFieldIndexer().IndexField(context.Background(), &kargov1.Promotion{}, promotionStageIndex, func(o client.Object) []string {
		return []string{o.(*kargov1.Promotion).Spec.Stage}
	})
}
