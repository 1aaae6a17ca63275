package swarm

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/swarm"
)

// ManagedNodeLabelsPrefix starts the node label in which an Environment
// records the keys of the labels it set ("<prefix><namespace>.<name>"), so
// that it removes only those: never a label set by someone else, nor one set
// by another Environment on the same Swarm.
const ManagedNodeLabelsPrefix = "swarm.kargo.io/managed-labels."

// NodeLabelConflict is a label an owner wants on a node that another
// owner's record holds with another value.
type NodeLabelConflict struct {
	Hostname, Key, Wanted, Value string
	// Holder is the other owner ("<namespace>.<name>" or
	// "clusterenvironment/<name>").
	Holder string
}

func (c NodeLabelConflict) String() string {
	return fmt.Sprintf("node %s: %s=%s is held by %s with value %q", c.Hostname, c.Key, c.Wanted, c.Holder, c.Value)
}

// NodeLabels returns the labels a node should carry: current, minus the
// labels recorded under recordKey and no longer desired (unless another
// owner's record holds them too), plus desired, with the record updated.
// Foreign labels are kept. A desired label that another owner's record
// holds with another value is left to that owner and returned as a
// conflict (by key, with the holder): the first owner keeps it, so two
// Environments wanting different values never take turns.
func NodeLabels(current, desired map[string]string, recordKey string) (map[string]string, map[string]string) {
	holders := map[string]string{} // key → other owner recording it
	for k, v := range current {
		if owner, ok := strings.CutPrefix(k, ManagedNodeLabelsPrefix); ok && k != recordKey && v != "" {
			for _, key := range strings.Split(v, ",") {
				holders[key] = owner
			}
		}
	}
	out := maps.Clone(current)
	if out == nil {
		out = map[string]string{}
	}
	if previous := current[recordKey]; previous != "" {
		for _, k := range strings.Split(previous, ",") {
			if _, keep := desired[k]; !keep && holders[k] == "" {
				delete(out, k)
			}
		}
	}
	delete(out, recordKey)
	var conflicts map[string]string
	var recorded []string
	for k, v := range desired {
		if holder := holders[k]; holder != "" && current[k] != v {
			if conflicts == nil {
				conflicts = map[string]string{}
			}
			conflicts[k] = holder
			continue
		}
		out[k] = v
		recorded = append(recorded, k)
	}
	if len(recorded) > 0 {
		slices.Sort(recorded)
		out[recordKey] = strings.Join(recorded, ",")
	}
	return out, conflicts
}

// NodeResult tells what ReconcileNodes did and saw.
type NodeResult struct {
	// Updated lists the hostnames of the nodes whose labels changed.
	Updated []string
	// Missing lists the wanted hostnames that are not nodes of the Swarm.
	Missing []string
	// Conflicts lists the wanted labels another owner holds, by hostname
	// and key.
	Conflicts []NodeLabelConflict
	// Unavailable lists the nodes that take no new tasks (see
	// Unavailable), sorted.
	Unavailable []string
}

// Unavailable describes a node that takes no new tasks, "<hostname>
// (<why>)": its state when not ready (down, disconnected, unknown), its
// availability when not active (drain, pause), or both; "" for a node
// that takes tasks.
func Unavailable(node swarm.Node) string {
	var why []string
	if node.Status.State != swarm.NodeStateReady {
		why = append(why, string(node.Status.State))
	}
	if node.Spec.Availability != swarm.NodeAvailabilityActive {
		why = append(why, string(node.Spec.Availability))
	}
	if len(why) == 0 {
		return ""
	}
	return fmt.Sprintf("%s (%s)", node.Description.Hostname, strings.Join(why, ", "))
}

// ReconcileNodes gives every node the labels wanted for its hostname
// (none for nodes not listed: labels the owner set on them before are
// removed). owner ("<namespace>.<name>" of the Environment) names the record
// of what it set. A node is updated only when its labels change. Another
// writer of the same node in between (another Environment, a person) makes
// Swarm refuse the update as out of sequence: the nodes are read again and
// the update retried, a few times. The result also lists the nodes that
// are unavailable.
func (c *Client) ReconcileNodes(ctx context.Context, owner string, wanted map[string]map[string]string) (NodeResult, error) {
	for attempt := 1; ; attempt++ {
		result, err := c.reconcileNodes(ctx, owner, wanted)
		if err == nil || attempt == 3 || !strings.Contains(err.Error(), "out of sequence") {
			return result, err
		}
	}
}

func (c *Client) reconcileNodes(ctx context.Context, owner string, wanted map[string]map[string]string) (NodeResult, error) {
	nodes, err := c.api.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return NodeResult{}, fmt.Errorf("list nodes: %w", err)
	}
	var result NodeResult
	seen := map[string]bool{}
	for _, node := range nodes {
		hostname := node.Description.Hostname
		seen[hostname] = true
		if u := Unavailable(node); u != "" {
			result.Unavailable = append(result.Unavailable, u)
		}
		labels, conflicts := NodeLabels(node.Spec.Labels, wanted[hostname], ManagedNodeLabelsPrefix+owner)
		for _, key := range slices.Sorted(maps.Keys(conflicts)) {
			result.Conflicts = append(result.Conflicts, NodeLabelConflict{
				Hostname: hostname, Key: key, Wanted: wanted[hostname][key], Value: node.Spec.Labels[key], Holder: conflicts[key],
			})
		}
		if maps.Equal(labels, node.Spec.Labels) {
			continue
		}
		spec := node.Spec
		spec.Labels = labels
		if err := c.api.NodeUpdate(ctx, node.ID, node.Version, spec); err != nil {
			return result, fmt.Errorf("update labels of node %s: %w", hostname, err)
		}
		result.Updated = append(result.Updated, hostname)
	}
	for hostname := range wanted {
		if !seen[hostname] {
			result.Missing = append(result.Missing, hostname)
		}
	}
	slices.Sort(result.Missing)
	slices.Sort(result.Unavailable)
	return result, nil
}
