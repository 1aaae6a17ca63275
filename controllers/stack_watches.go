package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// SetupWithManager registers the controller. Changes of its Services,
// Environment, ConfigMaps, Secrets and dependencies, and Swarm events of its
// objects, reconcile the Stack.
func (r *StackReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	ctx := context.Background()
	if err := mgr.GetFieldIndexer().IndexField(ctx, &kargov1.Service{}, serviceStackIndex, func(o client.Object) []string {
		return []string{o.(*kargov1.Service).Spec.StackRef.Name}
	}); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &kargov1.Stack{}, stackEnvIndex, func(o client.Object) []string {
		return []string{stackEnvironmentKey(o.(*kargov1.Stack)).String()}
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
		// Its own status changes do not: the reconcile that wrote them
		// already asked for the next one (RequeueAfter).
		For(&kargov1.Stack{}, builder.WithPredicates(notStatusOnly)).
		// A Stack's status change wakes the Stacks that depend on it, its
		// deletion those it depends on.
		Watches(&kargov1.Stack{}, handler.EnqueueRequestsFromMapFunc(r.relatedStacks)).
		// A Service's status is the Stack's observation copied back (the
		// Service reconciler): its changes must not wake the Stack again.
		Watches(&kargov1.Service{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: o.(*kargov1.Service).Spec.StackRef.Name}}}
		}), builder.WithPredicates(notStatusOnly)).
		Watches(&kargov1.Environment{}, handler.EnqueueRequestsFromMapFunc(r.stacksOfEnvironment)).
		Watches(&kargov1.ClusterEnvironment{}, handler.EnqueueRequestsFromMapFunc(r.stacksOfEnvironment)).
		// A namespace's labels may allow it to use a ClusterEnvironment.
		WatchesMetadata(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.stacksOfNamespace), builder.WithPredicates(predicate.LabelChangedPredicate{})).
		// Metadata only: the cache holds no values (see ManagerOptions).
		WatchesMetadata(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.stacksInNamespace)).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.stacksInNamespace)).
		WatchesRawSource(source.Channel(r.Watchers.Stacks, &handler.EnqueueRequestForObject{})).
		Named("stack").
		WithOptions(opts).
		Complete(r)
}

// notStatusOnly lets through every change of an object but those of its
// status alone: spec (generation), labels, annotations (a requested
// reconcile), finalizers, deletion.
var notStatusOnly = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	o, n := e.ObjectOld, e.ObjectNew
	return o.GetGeneration() != n.GetGeneration() ||
		!equality.Semantic.DeepEqual(o.GetLabels(), n.GetLabels()) ||
		!equality.Semantic.DeepEqual(o.GetAnnotations(), n.GetAnnotations()) ||
		!equality.Semantic.DeepEqual(o.GetFinalizers(), n.GetFinalizers()) ||
		!equality.Semantic.DeepEqual(o.GetDeletionTimestamp(), n.GetDeletionTimestamp())
}}

// stacksOf maps an object to the Stacks of its namespace whose index value
// is its name.
func (r *StackReconciler) stacksOf(index string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		return listRequests(ctx, r, &kargov1.StackList{}, o.GetNamespace(), client.MatchingFields{index: o.GetName()})
	}
}

// stacksOfEnvironment maps an Environment or ClusterEnvironment to the
// Stacks deployed with it.
func (r *StackReconciler) stacksOfEnvironment(ctx context.Context, o client.Object) []reconcile.Request {
	return listRequests(ctx, r, &kargov1.StackList{}, "", client.MatchingFields{stackEnvIndex: client.ObjectKeyFromObject(o).String()})
}

// stacksOfNamespace maps a namespace to its Stacks that name a ClusterEnvironment.
func (r *StackReconciler) stacksOfNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	var stacks kargov1.StackList
	if err := r.List(ctx, &stacks, client.InNamespace(o.GetName())); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "list stacks", "namespace", o.GetName())
		return nil
	}
	var reqs []reconcile.Request
	for _, st := range stacks.Items {
		if st.Spec.EnvironmentRef.IsCluster() {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&st)})
		}
	}
	return reqs
}

// relatedStacks maps a Stack to the Stacks that depend on it and, while it
// is being deleted (and when it is gone), to those it depends on: their
// deletion waits for its.
func (r *StackReconciler) relatedStacks(ctx context.Context, o client.Object) []reconcile.Request {
	reqs := r.stacksOf(stackDependsOnIndex)(ctx, o)
	if o.GetDeletionTimestamp() != nil {
		for _, d := range o.(*kargov1.Stack).Spec.DependsOn {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: d.Name}})
		}
	}
	return reqs
}

// stacksInNamespace reconciles the Stacks of a ConfigMap's or Secret's
// namespace; the reconcile itself finds out whether content changed, at the
// cost of reads only.
func (r *StackReconciler) stacksInNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	return listRequests(ctx, r, &kargov1.StackList{}, o.GetNamespace())
}
