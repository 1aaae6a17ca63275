package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/desired"
	"github.com/kargo-io/kargo/internal/swarm"
)

// notAllowedError: the Stack's namespace may not use the ClusterEnvironment.
type notAllowedError struct{ error }

func (e notAllowedError) Unwrap() error { return e.error }

// resolveEnvironment fetches the Stack's Environment or ClusterEnvironment
// and its engine client (stackEngine).
func (r *StackReconciler) resolveEnvironment(ctx context.Context, s *stackScope) error {
	env, engine, err := stackEngine(ctx, r.Client, r.Engines, s.stack)
	if err != nil {
		return err
	}
	s.env, s.engine = env, engine
	s.objects = swarm.StackObjects{
		Namespace: desired.Namespace(s.stack), Owner: s.owner, Manager: r.Settings.ManagerID,
		Networks: map[string]string{}, NetworkNames: map[string]string{},
		Configs: map[string]swarm.ObjectRef{}, Secrets: map[string]swarm.ObjectRef{},
	}
	s.desired = map[string]map[string]bool{swarm.KindService: {}, swarm.KindNetwork: {}, swarm.KindConfig: {}, swarm.KindSecret: {}}
	return nil
}

// stackEngine fetches a Stack's Environment or ClusterEnvironment, which
// must allow the Stack's namespace and be Ready (unless the Stack is being
// deleted), and its engine client. A namespace not allowed gets no client:
// nothing is asked of that Swarm. The Stack reconciler and the Promotion
// reconciler (verification) reach a Stack's Swarm through it.
func stackEngine(ctx context.Context, c client.Client, engines *Engines, stack *kargov1.Stack) (kargov1.EnvironmentObject, *swarm.Client, error) {
	key := stackEnvironmentKey(stack)
	what := stack.Spec.EnvironmentRef.String()
	env, err := getEnvironment(ctx, c, key)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	if cenv, ok := env.(*kargov1.ClusterEnvironment); ok && stack.DeletionTimestamp.IsZero() {
		if err := checkAllowed(ctx, c, cenv, stack.Namespace); err != nil {
			return nil, nil, err
		}
	}
	// A suspended Environment suspends its Stacks; their deletion goes on.
	if stack.DeletionTimestamp.IsZero() && env.EnvironmentSpec().Suspend {
		return nil, nil, environmentSuspendedError{what: what}
	}
	// A Stack being deleted uses its Environment whatever its condition
	// (an Environment being deleted waits for its Stacks, Ready=False):
	// an unreachable endpoint fails the engine calls and keeps the finalizer.
	status := env.EnvironmentStatus()
	if stack.DeletionTimestamp.IsZero() && !meta.IsStatusConditionTrue(status.Conditions, kargov1.ReadyCondition) {
		msg := "not reconciled yet"
		if c := meta.FindStatusCondition(status.Conditions, kargov1.ReadyCondition); c != nil {
			msg = c.Message
		}
		return nil, nil, fmt.Errorf("%s is not Ready: %s", what, msg)
	}
	engine, err := engines.For(ctx, c, env)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	return env, engine, nil
}

// checkAllowed tells whether a namespace may use a ClusterEnvironment, by
// its name or its labels (read from the metadata cache).
func checkAllowed(ctx context.Context, c client.Reader, env *kargov1.ClusterEnvironment, namespace string) error {
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	if err := c.Get(ctx, types.NamespacedName{Name: namespace}, ns); err != nil {
		return fmt.Errorf("namespace %s: %w", namespace, err)
	}
	allowed, err := env.Spec.AllowedNamespaces.Allows(namespace, ns.Labels)
	if err != nil {
		return notAllowedError{fmt.Errorf("clusterenvironment %s: %w", env.Name, err)}
	}
	if !allowed {
		return notAllowedError{fmt.Errorf("clusterenvironment %s does not allow namespace %s (spec.allowedNamespaces)", env.Name, namespace)}
	}
	return nil
}
