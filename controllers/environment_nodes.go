package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/swarm"
)

// reconcileNodes sets spec.nodeLabels on the Swarm's nodes and removes
// the labels this Environment set before and no longer wants. A hostname
// that is not a node is reported in status, not fatal: it may join later.
// It returns what it saw of the nodes.
func (r *EnvironmentReconciler) reconcileNodes(ctx context.Context, env kargov1.EnvironmentObject) (swarm.NodeResult, error) {
	engine, err := r.Engines.For(ctx, r.Client, env)
	if err != nil {
		return swarm.NodeResult{}, err
	}
	spec, status := env.EnvironmentSpec(), env.EnvironmentStatus()
	wanted := make(map[string]map[string]string, len(spec.NodeLabels))
	for _, n := range spec.NodeLabels {
		wanted[n.Hostname] = n.Labels
	}
	result, err := engine.ReconcileNodes(ctx, nodeLabelsOwner(env), wanted)
	if err != nil {
		return result, fmt.Errorf("node labels: %w", err)
	}
	for _, hostname := range result.Updated {
		r.Recorder.Eventf(env, corev1.EventTypeNormal, "Updated", "labels of node %s updated", hostname)
	}
	if len(result.Missing) > 0 && !slices.Equal(result.Missing, status.MissingNodes) {
		r.Recorder.Eventf(env, corev1.EventTypeWarning, "NodeNotFound", "nodeLabels name hostname(s) that are not Swarm nodes: %s", strings.Join(result.Missing, ", "))
	}
	status.MissingNodes = result.Missing
	r.reportNodeLabelConflicts(ctx, env, result.Conflicts)
	return result, nil
}

// reportUnavailableNodes records the nodes that take no new tasks in
// status.swarm.unavailableNodes, with a Warning event for each node that
// became unavailable and a Normal one for each that came back: Swarm moves
// the tasks of a node down or drained, which the Stacks show only as
// pending or moved tasks.
func (r *EnvironmentReconciler) reportUnavailableNodes(env kargov1.EnvironmentObject, was, now []string) {
	env.EnvironmentStatus().Swarm.UnavailableNodes = now
	hostnames := func(nodes []string) map[string]string {
		out := make(map[string]string, len(nodes))
		for _, n := range nodes {
			hostname, _, _ := strings.Cut(n, " ")
			out[hostname] = n
		}
		return out
	}
	before, after := hostnames(was), hostnames(now)
	for _, hostname := range slices.Sorted(maps.Keys(after)) {
		if before[hostname] != after[hostname] {
			r.Recorder.Eventf(env, corev1.EventTypeWarning, kargov1.NodeUnavailableReason, "node %s takes no new tasks: Swarm moves its tasks to other nodes", after[hostname])
		}
	}
	for _, hostname := range slices.Sorted(maps.Keys(before)) {
		if _, still := after[hostname]; !still {
			r.Recorder.Eventf(env, corev1.EventTypeNormal, kargov1.NodeAvailableReason, "node %s is ready and active again", hostname)
		}
	}
}

// reportNodeLabelConflicts sets the NodeLabels condition and, when the
// conflicts change, emits a Warning event on this Environment and on each
// holder that is an Environment or ClusterEnvironment of this cluster.
func (r *EnvironmentReconciler) reportNodeLabelConflicts(ctx context.Context, env kargov1.EnvironmentObject, conflicts []swarm.NodeLabelConflict) {
	conds := &env.EnvironmentStatus().Conditions
	if len(env.EnvironmentSpec().NodeLabels) == 0 {
		meta.RemoveStatusCondition(conds, kargov1.NodeLabelsCondition)
		return
	}
	if len(conflicts) == 0 {
		setCondition(conds, env.GetGeneration(), kargov1.NodeLabelsCondition, metav1.ConditionTrue, kargov1.ReconciledReason, "every wanted node label is set")
		return
	}
	described := make([]string, 0, len(conflicts))
	for _, c := range conflicts {
		described = append(described, c.String())
	}
	message := "left to the Environment that set them first: " + strings.Join(described, "; ")
	if c := meta.FindStatusCondition(*conds, kargov1.NodeLabelsCondition); c != nil && c.Message == truncate(message) {
		return // reported already
	}
	setCondition(conds, env.GetGeneration(), kargov1.NodeLabelsCondition, metav1.ConditionFalse, kargov1.NodeLabelConflictReason, message)
	r.Recorder.Eventf(env, corev1.EventTypeWarning, kargov1.NodeLabelConflictReason, "%s", message)
	for _, c := range conflicts {
		holder := nodeLabelsHolder(c.Holder)
		if holder == nil || r.Get(ctx, client.ObjectKeyFromObject(holder), holder) != nil {
			continue
		}
		r.Recorder.Eventf(holder, corev1.EventTypeWarning, kargov1.NodeLabelConflictReason, "node %s: %s wants %s=%s, which this Environment holds with value %q",
			c.Hostname, nodeLabelsOwner(env), c.Key, c.Wanted, c.Value)
	}
}

// nodeLabelsHolder is the Environment or ClusterEnvironment a record owner
// names (see nodeLabelsOwner), nil when it names neither.
func nodeLabelsHolder(owner string) kargov1.EnvironmentObject {
	if name, ok := strings.CutPrefix(owner, "clusterenvironment/"); ok {
		return newEnvironmentObject(types.NamespacedName{Name: name})
	}
	if namespace, name, ok := strings.Cut(owner, "."); ok {
		return newEnvironmentObject(types.NamespacedName{Namespace: namespace, Name: name})
	}
	return nil
}

// nodeLabelsOwner is how the node labels an Environment sets are recorded
// on the nodes: <namespace>.<name>, or clusterenvironment/<name> (no object
// name holds a '/', so the two never collide).
func nodeLabelsOwner(env kargov1.EnvironmentObject) string {
	if env.GetNamespace() == "" {
		return "clusterenvironment/" + env.GetName()
	}
	return env.GetNamespace() + "." + env.GetName()
}
