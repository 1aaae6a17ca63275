package swarm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// Owned is what one owner (a Stack) has on the Swarm: its services (with
// their task counts) and their tasks, networks, configs and secrets, listed
// once per kind. A reconcile takes one listing and reads it in every phase:
// apply (what exists), prune and deletion (what to remove), observe
// (status).
type Owned struct {
	// Foreign lists the objects of the Stack's Swarm namespace that belong
	// to someone else: another Stack, another Kargo installation, or no
	// Kargo at all (docker stack deploy). A namespace belongs to one Stack.
	Foreign  []ForeignObject
	Services []swarm.Service
	// Tasks of the services, by service ID.
	Tasks    map[string][]swarm.Task
	Networks []network.Summary
	Files    []OwnedFile
}

// Claim says whose a Stack's objects are: those of its Swarm namespace
// (label com.docker.stack.namespace) with its owner label and, when Manager
// is set, its installation's manager label (or none).
type Claim struct {
	Namespace, Owner, Manager string
}

// ForeignObject is an object of a Stack's Swarm namespace that another
// owner or installation has.
type ForeignObject struct {
	Kind, Name, Owner, Manager string
}

func (f ForeignObject) String() string {
	switch {
	case f.Owner == "":
		return fmt.Sprintf("%s %s (not managed by Kargo)", f.Kind, f.Name)
	case f.Manager != "":
		return fmt.Sprintf("%s %s (owner %s, manager %s)", f.Kind, f.Name, f.Owner, f.Manager)
	}
	return fmt.Sprintf("%s %s (owner %s)", f.Kind, f.Name, f.Owner)
}

// owns tells whether an object with these labels is the claim's, and
// records it in foreign when it is not.
func (cl Claim) owns(kind, name string, labels map[string]string, foreign *[]ForeignObject) bool {
	owner, manager := labels[kargov1.OwnerLabel], labels[kargov1.ManagerLabel]
	if owner == cl.Owner && (cl.Manager == "" || manager == "" || manager == cl.Manager) {
		return true
	}
	*foreign = append(*foreign, ForeignObject{Kind: kind, Name: name, Owner: owner, Manager: manager})
	return false
}

// ListOwned lists the objects of the claim's Swarm namespace, one request
// per kind, and keeps those the claim owns; the others are Foreign. The
// running task count of each service is taken from its tasks (see
// runningTasks).
func (c *Client) ListOwned(ctx context.Context, claim Claim) (*Owned, error) {
	inNamespace := filters.NewArgs(filters.Arg("label", kargov1.StackNamespaceLabel+"="+claim.Namespace))
	listed, err := c.api.ServiceList(ctx, swarm.ServiceListOptions{Filters: inNamespace, Status: true})
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	owned := &Owned{}
	services := slices.DeleteFunc(listed, func(s swarm.Service) bool {
		return !claim.owns(KindService, s.Spec.Name, s.Spec.Labels, &owned.Foreign)
	})
	networks, err := c.api.NetworkList(ctx, network.ListOptions{Filters: inNamespace})
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	networks = slices.DeleteFunc(networks, func(n network.Summary) bool {
		return !claim.owns(KindNetwork, n.Name, n.Labels, &owned.Foreign)
	})
	configs, err := c.api.ConfigList(ctx, swarm.ConfigListOptions{Filters: inNamespace})
	if err != nil {
		return nil, fmt.Errorf("list configs: %w", err)
	}
	configs = slices.DeleteFunc(configs, func(cfg swarm.Config) bool {
		return !claim.owns(KindConfig, cfg.Spec.Name, cfg.Spec.Labels, &owned.Foreign)
	})
	secrets, err := c.api.SecretList(ctx, swarm.SecretListOptions{Filters: inNamespace})
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	secrets = slices.DeleteFunc(secrets, func(s swarm.Secret) bool {
		return !claim.owns(KindSecret, s.Spec.Name, s.Spec.Labels, &owned.Foreign)
	})
	tasks, err := c.tasksOf(ctx, services)
	if err != nil {
		return nil, err
	}
	for i := range services {
		if services[i].ServiceStatus != nil {
			services[i].ServiceStatus.RunningTasks = runningTasks(tasks[services[i].ID])
		}
	}
	owned.Services, owned.Tasks, owned.Networks = services, tasks, networks
	owned.Files = make([]OwnedFile, 0, len(configs)+len(secrets))
	for _, cfg := range configs {
		owned.Files = append(owned.Files, OwnedFile{Kind: KindConfig, ID: cfg.ID, Name: cfg.Spec.Name, Logical: cfg.Spec.Labels[kargov1.LogicalNameLabel]})
	}
	for _, s := range secrets {
		owned.Files = append(owned.Files, OwnedFile{Kind: KindSecret, ID: s.ID, Name: s.Spec.Name, Logical: s.Spec.Labels[kargov1.LogicalNameLabel]})
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

// FileInUse tells whether a listed service refers to the config or secret:
// Swarm refuses to remove it then.
func (o *Owned) FileInUse(f OwnedFile) bool {
	for _, svc := range o.Services {
		cs := svc.Spec.TaskTemplate.ContainerSpec
		if cs == nil {
			continue
		}
		for _, ref := range cs.Configs {
			if f.Kind == KindConfig && ref.ConfigID == f.ID {
				return true
			}
		}
		for _, ref := range cs.Secrets {
			if f.Kind == KindSecret && ref.SecretID == f.ID {
				return true
			}
		}
	}
	return false
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
