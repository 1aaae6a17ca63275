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

// NodeLabels returns the labels a node should carry: current, minus the
// labels recorded under recordKey and no longer desired, plus desired, with
// the record updated. Foreign labels are kept.
func NodeLabels(current, desired map[string]string, recordKey string) map[string]string {
	out := maps.Clone(current)
	if out == nil {
		out = map[string]string{}
	}
	if previous := current[recordKey]; previous != "" {
		for _, k := range strings.Split(previous, ",") {
			if _, keep := desired[k]; !keep {
				delete(out, k)
			}
		}
	}
	delete(out, recordKey)
	maps.Copy(out, desired)
	if len(desired) > 0 {
		out[recordKey] = strings.Join(slices.Sorted(maps.Keys(desired)), ",")
	}
	return out
}

// NodeLabelResult tells what ReconcileNodeLabels did.
type NodeLabelResult struct {
	// Updated lists the hostnames of the nodes whose labels changed.
	Updated []string
	// Missing lists the wanted hostnames that are not nodes of the Swarm.
	Missing []string
}

// ReconcileNodeLabels gives every node the labels wanted for its hostname
// (none for nodes not listed: labels the owner set on them before are
// removed). owner ("<namespace>.<name>" of the Environment) names the record
// of what it set. A node is updated only when its labels change.
func (c *Client) ReconcileNodeLabels(ctx context.Context, owner string, wanted map[string]map[string]string) (NodeLabelResult, error) {
	nodes, err := c.api.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return NodeLabelResult{}, fmt.Errorf("list nodes: %w", err)
	}
	var result NodeLabelResult
	seen := map[string]bool{}
	for _, node := range nodes {
		hostname := node.Description.Hostname
		seen[hostname] = true
		labels := NodeLabels(node.Spec.Labels, wanted[hostname], ManagedNodeLabelsPrefix+owner)
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
	return result, nil
}
