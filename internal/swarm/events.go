package swarm

import (
	"context"
	"fmt"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
)

// Event is a change of a Swarm object seen on the engine's event stream.
type Event struct {
	// Kind is service, network, config, secret or node.
	Kind string
	// Action is create, update or remove.
	Action string
	ID     string
	// Name of the object (hostname for nodes).
	Name string
	// Attributes carry what changed on updates (image.new, replicas.new,
	// updatestate.new, ...).
	Attributes map[string]string
}

// Watch streams the Swarm's cluster events (services, networks, configs,
// secrets, nodes) to handle until ctx ends or the stream breaks; it returns
// the error that ended it. Cluster events carry names but no labels, so
// ownership is decided by the caller from the stack namespace of the name.
func (c *Client) Watch(ctx context.Context, handle func(Event)) error {
	args := filters.NewArgs(filters.Arg("scope", "swarm"))
	for _, kind := range []events.Type{events.ServiceEventType, events.NetworkEventType, events.ConfigEventType, events.SecretEventType, events.NodeEventType} {
		args.Add("type", string(kind))
	}
	messages, errs := c.api.Events(ctx, events.ListOptions{Filters: args})
	for {
		select {
		case m := <-messages:
			handle(Event{Kind: string(m.Type), Action: string(m.Action), ID: m.Actor.ID, Name: m.Actor.Attributes["name"], Attributes: m.Actor.Attributes})
		case err := <-errs:
			if err == nil {
				err = fmt.Errorf("event stream closed")
			}
			return fmt.Errorf("watch events: %w", err)
		}
	}
}
