package swarm

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
)

// Owned is what one owner (a Stack) has on the Swarm: its services (with
// their task counts) and their tasks, networks, configs and secrets, listed
// once per kind. A reconcile takes one listing and reads it in every phase:
// apply (what exists), prune and deletion (what to remove), observe
// (status).
type Owned struct {
	Services []swarm.Service
	// Tasks of the services, by service ID.
	Tasks    map[string][]swarm.Task
	Networks []network.Summary
	Files    []OwnedFile
}

// ListOwned lists the owner's objects: one request per kind. The running
// task count of each service is taken from its tasks (see runningTasks).
func (c *Client) ListOwned(ctx context.Context, owner string) (*Owned, error) {
	services, err := c.api.ServiceList(ctx, swarm.ServiceListOptions{Filters: ownerFilter(owner), Status: true})
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	networks, err := c.api.NetworkList(ctx, network.ListOptions{Filters: ownerFilter(owner)})
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	configs, err := c.api.ConfigList(ctx, swarm.ConfigListOptions{Filters: ownerFilter(owner)})
	if err != nil {
		return nil, fmt.Errorf("list configs: %w", err)
	}
	secrets, err := c.api.SecretList(ctx, swarm.SecretListOptions{Filters: ownerFilter(owner)})
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	tasks, err := c.tasksOf(ctx, services)
	if err != nil {
		return nil, err
	}
	for i := range services {
		if services[i].ServiceStatus != nil {
			services[i].ServiceStatus.RunningTasks = runningTasks(tasks[services[i].ID])
		}
	}
	owned := &Owned{Services: services, Tasks: tasks, Networks: networks, Files: make([]OwnedFile, 0, len(configs)+len(secrets))}
	for _, cfg := range configs {
		owned.Files = append(owned.Files, OwnedFile{Kind: KindConfig, ID: cfg.ID, Name: cfg.Spec.Name})
	}
	for _, s := range secrets {
		owned.Files = append(owned.Files, OwnedFile{Kind: KindSecret, ID: s.ID, Name: s.Spec.Name})
	}
	return owned, nil
}

// Service returns the listed service of that name.
func (o *Owned) Service(name string) (swarm.Service, bool) {
	for _, s := range o.Services {
		if s.Spec.Name == name {
			return s, true
		}
	}
	return swarm.Service{}, false
}

// Network returns the listed network of that name.
func (o *Owned) Network(name string) (network.Summary, bool) {
	for _, n := range o.Networks {
		if n.Name == name {
			return n, true
		}
	}
	return network.Summary{}, false
}

// File returns the listed config or secret of that kind and name.
func (o *Owned) File(kind, name string) (OwnedFile, bool) {
	for _, f := range o.Files {
		if f.Kind == kind && f.Name == name {
			return f, true
		}
	}
	return OwnedFile{}, false
}

// Count is the number of listed objects.
func (o *Owned) Count() int { return len(o.Services) + len(o.Networks) + len(o.Files) }

// RemoveOwned removes the listed objects keep does not hold (by kind, then
// name), in the one order Swarm allows: services, then networks, configs
// and secrets; volumes never. A network, config or secret still in use
// (tasks of a removed service stopping, a service moving to a new config
// version) is left for a later pass: left counts them. removed is told of
// each object removed.
func (c *Client) RemoveOwned(ctx context.Context, owned *Owned, keep map[string]map[string]bool, removed func(kind, name string)) (left int, err error) {
	for _, svc := range owned.Services {
		if keep[KindService][svc.Spec.Name] {
			continue
		}
		if err := c.api.ServiceRemove(ctx, svc.ID); err != nil && !IsNotFound(err) {
			return left, fmt.Errorf("remove service %s: %w", svc.Spec.Name, err)
		}
		removed(KindService, svc.Spec.Name)
	}
	for _, n := range owned.Networks {
		if keep[KindNetwork][n.Name] {
			continue
		}
		if err := c.api.NetworkRemove(ctx, n.ID); err != nil && !IsNotFound(err) {
			// Tasks of removed services may still be attached for a moment.
			left++
			continue
		}
		removed(KindNetwork, n.Name)
	}
	for _, f := range owned.Files {
		if keep[f.Kind][f.Name] {
			continue
		}
		if err := c.removeFile(ctx, f); err != nil {
			if errors.Is(err, ErrInUse) {
				left++
				continue
			}
			return left, err
		}
		removed(f.Kind, f.Name)
	}
	return left, nil
}

// ErrInUse: Swarm refuses to remove a config or secret a service still uses.
var ErrInUse = errors.New("in use")

// removeFile removes a config or secret; one already gone is not an error.
func (c *Client) removeFile(ctx context.Context, f OwnedFile) error {
	var err error
	if f.Kind == KindConfig {
		err = c.api.ConfigRemove(ctx, f.ID)
	} else {
		err = c.api.SecretRemove(ctx, f.ID)
	}
	switch {
	case err == nil, IsNotFound(err):
		return nil
	case strings.Contains(err.Error(), "in use"):
		return fmt.Errorf("remove %s %s: %w", f.Kind, f.Name, ErrInUse)
	default:
		return fmt.Errorf("remove %s %s: %w", f.Kind, f.Name, err)
	}
}

// tasksOf lists the tasks of the services in one request, by service ID.
func (c *Client) tasksOf(ctx context.Context, services []swarm.Service) (map[string][]swarm.Task, error) {
	out := map[string][]swarm.Task{}
	if len(services) == 0 {
		return out, nil
	}
	args := filters.NewArgs()
	for _, svc := range services {
		args.Add("service", svc.ID)
	}
	tasks, err := c.api.TaskList(ctx, swarm.TaskListOptions{Filters: args})
	if IsNotFound(err) {
		// A service removed since it was listed; its event brings the next
		// reconcile.
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	for _, t := range tasks {
		out[t.ServiceID] = append(out[t.ServiceID], t)
	}
	return out, nil
}

// runningTasks counts the tasks that run and are meant to. The engine's own
// count (ServiceStatus.RunningTasks) also counts a task of a node that went
// down, which Swarm has already replaced (desired state shutdown) while its
// replacement waits for a node.
func runningTasks(tasks []swarm.Task) uint64 {
	var n uint64
	for _, t := range tasks {
		if t.DesiredState == swarm.TaskStateRunning && t.Status.State == swarm.TaskStateRunning {
			n++
		}
	}
	return n
}

// isNameConflict tells whether a create failed because an object of that
// name exists (not in the owner's listing: someone else's).
func isNameConflict(err error) bool {
	return errdefs.IsConflict(err) || strings.Contains(err.Error(), "already exists") || strings.Contains(err.Error(), "name conflicts")
}
