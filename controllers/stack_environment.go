package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/desired"
	"github.com/kargo-io/kargo/internal/swarm"
)

// resolveEnvironment fetches the Stack's Environment, which must be Ready
// (unless the Stack is being deleted), and its engine client.
func (r *StackReconciler) resolveEnvironment(ctx context.Context, s *stackScope) error {
	env := &kargov1.Environment{}
	key := types.NamespacedName{Namespace: s.stack.Namespace, Name: s.stack.Spec.EnvironmentRef.Name}
	if err := r.Get(ctx, key, env); err != nil {
		return fmt.Errorf("environment %s: %w", key.Name, err)
	}
	// A Stack being deleted uses its Environment whatever its condition
	// (an Environment being deleted waits for its Stacks, Ready=False):
	// an unreachable endpoint fails the engine calls and keeps the finalizer.
	if s.stack.DeletionTimestamp.IsZero() && !meta.IsStatusConditionTrue(env.Status.Conditions, kargov1.ReadyCondition) {
		msg := "not reconciled yet"
		if c := meta.FindStatusCondition(env.Status.Conditions, kargov1.ReadyCondition); c != nil {
			msg = c.Message
		}
		return fmt.Errorf("environment %s is not Ready: %s", key.Name, msg)
	}
	engine, err := r.Engines.For(ctx, r.Client, env)
	if err != nil {
		return fmt.Errorf("environment %s: %w", key.Name, err)
	}
	s.env, s.engine = env, engine
	s.objects = swarm.StackObjects{
		Namespace: desired.Namespace(s.stack), Owner: s.owner,
		Networks: map[string]string{}, NetworkNames: map[string]string{},
		Configs: map[string]swarm.ObjectRef{}, Secrets: map[string]swarm.ObjectRef{},
	}
	s.desired = map[string]map[string]bool{swarm.KindService: {}, swarm.KindNetwork: {}, swarm.KindConfig: {}, swarm.KindSecret: {}}
	return nil
}
