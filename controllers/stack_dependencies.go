package controllers

import (
	"context"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/depgraph"
)

// checkDependencies makes sure every Stack of spec.dependsOn exists and is
// Ready for its current generation, and that dependsOn has no cycle.
func (r *StackReconciler) checkDependencies(ctx context.Context, s *stackScope) error {
	if len(s.stack.Spec.DependsOn) == 0 {
		return nil
	}
	stacks, edges, err := r.stackGraph(ctx, s.stack.Namespace)
	if err != nil {
		return err
	}
	if cycle := depgraph.Cycle(edges, s.stack.Name); cycle != nil {
		return dependencyCycleError{what: "stacks", cycle: cycle}
	}
	var waiting []string
	for _, d := range s.stack.Spec.DependsOn {
		dep, ok := stacks[d.Name]
		switch {
		case !ok:
			waiting = append(waiting, fmt.Sprintf("stack %s: not found", d.Name))
		case !isReady(dep.Status.Conditions, dep.Generation, dep.Status.ObservedGeneration):
			msg := "not reconciled yet"
			if c := meta.FindStatusCondition(dep.Status.Conditions, kargov1.ReadyCondition); c != nil {
				msg = c.Message
			}
			waiting = append(waiting, fmt.Sprintf("stack %s: %s", d.Name, msg))
		}
	}
	if len(waiting) > 0 {
		return dependencyNotReadyError{waiting: waiting}
	}
	return nil
}

// stackGraph lists the Stacks of a namespace by name, and their dependsOn
// edges.
func (r *StackReconciler) stackGraph(ctx context.Context, namespace string) (map[string]*kargov1.Stack, map[string][]string, error) {
	var list kargov1.StackList
	if err := r.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, nil, fmt.Errorf("list stacks: %w", err)
	}
	stacks := map[string]*kargov1.Stack{}
	edges := map[string][]string{}
	for i := range list.Items {
		st := &list.Items[i]
		stacks[st.Name] = st
		for _, d := range st.Spec.DependsOn {
			edges[st.Name] = append(edges[st.Name], d.Name)
		}
	}
	return stacks, edges, nil
}

// dependents names the Stacks that depend on the Stack (spec.dependsOn) and
// still exist: its deletion waits for theirs, the reverse of the deploy
// order, as the old tool removed stacks. Within a dependsOn cycle there is
// no order: none is waited for.
func (r *StackReconciler) dependents(ctx context.Context, s *stackScope) ([]string, error) {
	stacks, edges, err := r.stackGraph(ctx, s.stack.Namespace)
	if err != nil {
		return nil, err
	}
	if depgraph.Cycle(edges, s.stack.Name) != nil {
		return nil, nil
	}
	var names []string
	for name := range stacks {
		if slices.Contains(edges[name], s.stack.Name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// isReady tells whether an object is Ready for its current generation.
func isReady(conds []metav1.Condition, generation, observed int64) bool {
	c := meta.FindStatusCondition(conds, kargov1.ReadyCondition)
	return c != nil && c.Status == metav1.ConditionTrue && observed == generation && c.ObservedGeneration == generation
}
