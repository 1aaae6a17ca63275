// Package controllers holds one reconciler per kind: Environment (and
// ClusterEnvironment), Stack, Service, and the promotion kinds Warehouse,
// Stage and Promotion.
package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/endpoints"
)

// DefaultMaxConcurrentReconciles is how many objects of each kind are
// reconciled at once unless the manager is told otherwise
// (--max-concurrent-reconciles).
const DefaultMaxConcurrentReconciles = 4

// DefaultClusterResourceNamespace is the manager's namespace as
// config/default deploys it, where ClusterEnvironments' Secrets and
// ConfigMaps are read unless --cluster-resource-namespace (or POD_NAMESPACE)
// says otherwise.
const DefaultClusterResourceNamespace = "kargo-system"

// Settings are the manager's choices that apply to every controller (the
// flags of kargo manager).
type Settings struct {
	// MaxConcurrentReconciles is how many objects of each kind are
	// reconciled at once; default DefaultMaxConcurrentReconciles. The engine
	// clients keep enough connections open for that many Stacks applying
	// services at once.
	MaxConcurrentReconciles int
	// ClusterResourceNamespace is where the TLS Secrets and variablesFrom
	// sources of ClusterEnvironments are read: the manager's namespace.
	ClusterResourceNamespace string
	// ManagerID identifies this installation on the Swarms it manages (the
	// swarm.kargo.io/manager label); default: see InstallationID.
	ManagerID string
	// Endpoints says which Docker endpoints Environments may use
	// (--allowed-endpoints, --allow-insecure-endpoints); the zero value
	// allows any endpoint except plain TCP (insecure: true). The manager
	// makes no connection to an endpoint it refuses.
	Endpoints endpoints.Policy
	// NoNamespacedEnvironments refuses every namespaced Environment
	// (--namespaced-environments=false): tenants then deploy only with the
	// ClusterEnvironments the cluster's administrators made.
	NoNamespacedEnvironments bool
	// EngineRequestTimeout bounds each Engine API request but the event
	// stream; default swarm.DefaultRequestTimeout. A stalled endpoint then
	// holds a reconcile for that long at most (swarm.WithRequestTimeout).
	EngineRequestTimeout time.Duration
}

// InstallationID is the default identity of a Kargo installation: the UID
// of its management cluster's kube-system namespace, which no other
// cluster shares and which lives as long as the cluster.
func InstallationID(ctx context.Context, c client.Reader) (string, error) {
	var ns corev1.Namespace
	if err := c.Get(ctx, client.ObjectKey{Name: metav1.NamespaceSystem}, &ns); err != nil {
		return "", fmt.Errorf("read the kube-system namespace for the manager's identity (or set --manager-id): %w", err)
	}
	return string(ns.UID), nil
}

// SetupAll registers the reconcilers on a manager, sharing the engine
// clients and the Swarm event subscriptions.
func SetupAll(mgr ctrl.Manager, engines *Engines, settings Settings) error {
	if settings.ManagerID == "" {
		id, err := InstallationID(context.Background(), mgr.GetAPIReader())
		if err != nil {
			return err
		}
		settings.ManagerID = id
	}
	workers := settings.MaxConcurrentReconciles
	if workers <= 0 {
		workers = DefaultMaxConcurrentReconciles
	}
	engines.configure(settings, workers*serviceApplyConcurrency+2)
	watchers := NewWatchers(mgr.GetClient(), engines)
	if err := mgr.Add(watchers); err != nil {
		return err
	}
	for _, kind := range []string{kargov1.EnvironmentKind, kargov1.ClusterEnvironmentKind} {
		r := &EnvironmentReconciler{Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Recorder: mgr.GetEventRecorderFor(strings.ToLower(kind) + "-controller"),
			Engines: engines, Watchers: watchers, Kind: kind, Settings: settings}
		if err := r.SetupWithManager(mgr, controllerOptions(workers)); err != nil {
			return err
		}
	}
	if err := (&StackReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(), Recorder: mgr.GetEventRecorderFor("stack-controller"),
		Engines: engines, Watchers: watchers, Settings: settings}).SetupWithManager(mgr, controllerOptions(workers)); err != nil {
		return err
	}
	if err := (&WarehouseReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(), Recorder: mgr.GetEventRecorderFor("warehouse-controller")}).SetupWithManager(mgr, controllerOptions(workers)); err != nil {
		return err
	}
	if err := (&ServiceReconciler{Client: mgr.GetClient(), Scheme: mgr.GetScheme()}).SetupWithManager(mgr, controllerOptions(workers)); err != nil {
		return err
	}
	if err := indexPromotions(mgr); err != nil {
		return err
	}
	if err := (&StageReconciler{Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Recorder: mgr.GetEventRecorderFor("stage-controller")}).SetupWithManager(mgr, controllerOptions(workers)); err != nil {
		return err
	}
	return (&PromotionReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(), Recorder: mgr.GetEventRecorderFor("promotion-controller"),
		Engines: engines, Settings: settings}).SetupWithManager(mgr, controllerOptions(workers))
}

// Failed reconciles are retried after failureBackoffBase, doubling up to
// failureBackoffCap: a Swarm that refuses a service is asked again a few
// times a minute at first, then once per cap, not at every poll.
const (
	failureBackoffBase = time.Second
	failureBackoffCap  = time.Minute
)

// controllerOptions are one controller's options. Each controller gets its
// own failure backoff: it counts failures per request (namespace/name),
// and a Stack and an Environment may share a name.
func controllerOptions(workers int) controller.Options {
	return controller.Options{
		MaxConcurrentReconciles: workers,
		RateLimiter:             workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](failureBackoffBase, failureBackoffCap),
	}
}

// listRequests lists the objects of list's kind in a namespace (filtered by
// opts, e.g. a field index) and returns a reconcile request for each: the
// shape of every "when X changes, reconcile the Ys that use it" mapping.
func listRequests(ctx context.Context, c client.Reader, list client.ObjectList, namespace string, opts ...client.ListOption) []reconcile.Request {
	if err := c.List(ctx, list, append(opts, client.InNamespace(namespace))...); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "list objects to reconcile", "namespace", namespace)
		return nil
	}
	var reqs []reconcile.Request
	_ = meta.EachListItem(list, func(obj runtime.Object) error {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(obj.(client.Object))})
		return nil
	})
	return reqs
}
