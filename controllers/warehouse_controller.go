package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/swarm"
)

const (
	warehouseSecretIndex = ".spec.pullSecretRef.name"
	// defaultWarehouseInterval is spec.interval's default, for a Warehouse
	// the API server did not default (created before the field had one).
	defaultWarehouseInterval = 5 * time.Minute
	// discoveryTimeout bounds the registry reads of one reconcile: a
	// registry that stops answering holds a worker for that long at most.
	discoveryTimeout = 2 * time.Minute
)

// WarehouseReconciler discovers the revisions of each Warehouse's image
// repositories every spec.interval and makes a Freight of each new
// combination of their newest revisions.
type WarehouseReconciler struct {
	client.Client
	// APIReader reads from the API server, bypassing the cache: the
	// Freight, Stages and Promotions that decide what a deleted Warehouse
	// leaves, and the aliases taken, are read fresh.
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  record.EventRecorder
}

// +kubebuilder:rbac:groups=swarm.kargo.io,resources=warehouses,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=warehouses/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=warehouses/finalizers,verbs=update
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=freights,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=freights/status,verbs=get
// +kubebuilder:rbac:groups=swarm.kargo.io,resources=stages;promotions,verbs=get;list;watch

// Reconcile discovers a Warehouse's images and makes Freight of them.
func (r *WarehouseReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	start := time.Now()
	wh := &kargov1.Warehouse{}
	if err := r.Get(ctx, req.NamespacedName, wh); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !wh.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.reconcileDelete(ctx, wh)
	}
	if !controllerutil.ContainsFinalizer(wh, kargov1.Finalizer) {
		patch := client.MergeFrom(wh.DeepCopy())
		controllerutil.AddFinalizer(wh, kargov1.Finalizer)
		return ctrl.Result{}, r.Patch(ctx, wh, patch)
	}

	base := wh.DeepCopy()
	defer func() {
		if equality.Semantic.DeepEqual(base.Status, wh.Status) {
			return
		}
		if err := r.Status().Patch(ctx, wh, client.MergeFrom(base)); err != nil && !apierrors.IsNotFound(err) {
			retErr = kerrors.NewAggregate([]error{retErr, fmt.Errorf("patch status: %w", err)})
		}
	}()
	s := &warehouseScope{warehouse: wh}
	result, err := r.reconcile(ctx, s)
	ctrl.LoggerFrom(ctx).Info(fmt.Sprintf("reconciled in %s", time.Since(start).Round(time.Millisecond)),
		"ready", meta.IsStatusConditionTrue(wh.Status.Conditions, kargov1.ReadyCondition), "lastFreight", wh.Status.LastFreight,
		"freightCreated", s.created, "next", result.RequeueAfter)
	return result, err
}

// warehouseScope is a Warehouse and what the phases found.
type warehouseScope struct {
	warehouse *kargov1.Warehouse
	// keychain holds the credentials of the pull Secret (nil: none).
	keychain authn.Keychain
	// newest is the newest revision of each subscription, in spec order.
	newest []kargov1.FreightImage
	// created: this reconcile made a Freight.
	created bool
}

// reconcile runs the phases in order.
func (r *WarehouseReconciler) reconcile(ctx context.Context, s *warehouseScope) (ctrl.Result, error) {
	wh := s.warehouse
	markReconciling(&wh.Status.Conditions, wh.Generation, kargov1.ProgressingReason, "discovering images")
	for _, phase := range []func(context.Context, *warehouseScope) error{
		r.resolveCredentials, r.discover, r.makeFreight,
	} {
		if err := phase(ctx, s); err != nil {
			return r.fail(ctx, s, err)
		}
	}
	markReady(&wh.Status.Conditions, wh.Generation, "newest: "+describeImages(s.newest))
	wh.Status.ObservedGeneration = wh.Generation
	return ctrl.Result{RequeueAfter: jitter(warehouseInterval(wh))}, nil
}

// fail reports err on the Warehouse. A spec that cannot work stalls (a
// change of it reconciles again); a missing pull Secret waits for it (a
// watch); a repository without images is looked at again next interval;
// registry and API errors are retried with backoff.
func (r *WarehouseReconciler) fail(ctx context.Context, s *warehouseScope, err error) (ctrl.Result, error) {
	wh := s.warehouse
	var (
		invalid   invalidSpecError
		missing   sourceNotFoundError
		noImages  noImagesError
		discovery discoveryFailedError
		reason    string
		result    ctrl.Result
		retErr    error
		stalled   bool
	)
	switch {
	case errors.As(err, &invalid):
		reason, stalled = kargov1.InvalidSpecReason, true
	case errors.As(err, &missing):
		reason = kargov1.SourceNotFoundReason
	case errors.As(err, &noImages):
		reason, result = kargov1.NoImagesReason, ctrl.Result{RequeueAfter: jitter(warehouseInterval(wh))}
	case errors.As(err, &discovery):
		reason, retErr = kargov1.DiscoveryFailedReason, err
	default:
		// The API server failed us: Ready stays as it was, Reconciling
		// says what failed, and the reconcile is retried.
		markReconciling(&wh.Status.Conditions, wh.Generation, kargov1.ProgressingReason, swarm.ErrorText(err))
		return ctrl.Result{}, err
	}
	message := swarm.ErrorText(err)
	// One event per new failure, not one per retry.
	if ready := meta.FindStatusCondition(wh.Status.Conditions, kargov1.ReadyCondition); ready == nil || ready.Reason != reason || ready.Message != message {
		r.Recorder.Eventf(wh, corev1.EventTypeWarning, reason, "%s", message)
	}
	markNotReady(&wh.Status.Conditions, wh.Generation, reason, message, stalled)
	if retErr == nil {
		meta.RemoveStatusCondition(&wh.Status.Conditions, kargov1.ReconcilingCondition)
		ctrl.LoggerFrom(ctx).Info("not ready", "reason", reason, "message", message)
	}
	return result, retErr
}

// warehouseInterval is spec.interval, or its default.
func warehouseInterval(wh *kargov1.Warehouse) time.Duration {
	if wh.Spec.Interval.Duration > 0 {
		return wh.Spec.Interval.Duration
	}
	return defaultWarehouseInterval
}

// describeImages names revisions for people: repo:tag@sha256:123456789abc.
func describeImages(images []kargov1.FreightImage) string {
	parts := make([]string, len(images))
	for i, img := range images {
		parts[i] = fmt.Sprintf("%s:%s@%s", img.RepoURL, img.Tag, shortDigest(img.Digest))
	}
	return strings.Join(parts, ", ")
}

// shortDigest is a digest cut to 12 hex digits, as docker prints them.
func shortDigest(digest string) string {
	algo, hex, ok := strings.Cut(digest, ":")
	if !ok || len(hex) <= 12 {
		return digest
	}
	return algo + ":" + hex[:12]
}

// SetupWithManager registers the controller. Besides the interval, a
// change of a Warehouse's spec or of its pull Secret reconciles it.
func (r *WarehouseReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &kargov1.Warehouse{}, warehouseSecretIndex, func(o client.Object) []string {
		if ref := o.(*kargov1.Warehouse).Spec.PullSecretRef; ref != nil {
			return []string{ref.Name}
		}
		return nil
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		// Its own status changes do not: the reconcile that wrote them
		// asked for the next one (RequeueAfter).
		For(&kargov1.Warehouse{}, builder.WithPredicates(notStatusOnly)).
		// Metadata only: the cache holds no values (see ManagerOptions).
		// A new or fixed pull Secret is used at once, not an interval later.
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return listRequests(ctx, r, &kargov1.WarehouseList{}, o.GetNamespace(), client.MatchingFields{warehouseSecretIndex: o.GetName()})
		})).
		Named("warehouse").
		WithOptions(opts).
		Complete(r)
}
