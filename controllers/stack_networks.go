package controllers

import (
	"context"
	"maps"

	"github.com/kargo-io/kargo/internal/desired"
	"github.com/kargo-io/kargo/internal/swarm"
)

// reconcileNetworks resolves the external networks by name and creates or
// updates the Stack's own.
func (r *StackReconciler) reconcileNetworks(ctx context.Context, s *stackScope) error {
	for _, n := range s.stack.Spec.Networks {
		name := desired.NetworkName(s.objects.Namespace, n)
		s.objects.NetworkNames[n.Name] = name
		if n.External {
			id, err := s.engine.ExternalNetwork(ctx, name)
			if err != nil {
				return err
			}
			s.objects.Networks[n.Name] = id
			continue
		}
		// Kargo's labels last: the spec's cannot take their keys (the
		// schema refuses them too), or the network would be no one's.
		labels := maps.Clone(n.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		maps.Copy(labels, s.labels(n.Name))
		id, change, err := s.engine.EnsureNetwork(ctx, swarm.NetworkSpec{
			Name: name, Driver: n.Driver, Attachable: n.Attachable, Internal: n.Internal,
			Encrypted: n.Encrypted, Options: n.DriverOpts, Labels: labels,
		}, s.owner, s.owned)
		if err != nil {
			return err
		}
		s.desired[swarm.KindNetwork][name] = true
		s.objects.Networks[n.Name] = id
		r.recordChange(ctx, s, change, swarm.KindNetwork, name, nil)
	}
	return nil
}
