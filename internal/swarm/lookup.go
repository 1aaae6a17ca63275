package swarm

import (
	"context"
	"fmt"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
)

// The lookups below read what the apply functions would create, without
// creating anything: kargo diff compares with them.

// InspectService returns the live service of that name; found is false
// when there is none.
func (c *Client) InspectService(ctx context.Context, name string) (svc swarm.Service, found bool, err error) {
	live, _, err := c.api.ServiceInspectWithRaw(ctx, name, swarm.ServiceInspectOptions{})
	if IsNotFound(err) {
		return swarm.Service{}, false, nil
	}
	if err != nil {
		return swarm.Service{}, false, fmt.Errorf("inspect service %s: %w", name, err)
	}
	// ServiceInspect matches ID prefixes too; only a name match counts.
	if live.Spec.Name != name {
		return swarm.Service{}, false, nil
	}
	return live, true, nil
}

// LookupNetwork returns the ID of the swarm-scoped network of that name;
// found is false when there is none.
func (c *Client) LookupNetwork(ctx context.Context, name string) (id string, found bool, err error) {
	live, err := c.api.NetworkInspect(ctx, name, network.InspectOptions{Scope: "swarm"})
	if IsNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("inspect network %s: %w", name, err)
	}
	if live.Name != name {
		return "", false, nil
	}
	return live.ID, true, nil
}

// LookupFile returns the config (kind KindConfig) or secret (KindSecret)
// of that name; found is false when there is none.
func (c *Client) LookupFile(ctx context.Context, kind, name string) (ref ObjectRef, found bool, err error) {
	var id string
	switch kind {
	case KindConfig:
		var live swarm.Config
		live, _, err = c.api.ConfigInspectWithRaw(ctx, name)
		id = live.ID
	case KindSecret:
		var live swarm.Secret
		live, _, err = c.api.SecretInspectWithRaw(ctx, name)
		id = live.ID
	default:
		return ObjectRef{}, false, fmt.Errorf("unknown kind %q", kind)
	}
	if IsNotFound(err) {
		return ObjectRef{}, false, nil
	}
	if err != nil {
		return ObjectRef{}, false, fmt.Errorf("inspect %s %s: %w", kind, name, err)
	}
	return ObjectRef{ID: id, Name: name}, true, nil
}
