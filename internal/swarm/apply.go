package swarm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// Kind of a Swarm object, as reported in Stack inventories.
const (
	KindService = "service"
	KindNetwork = "network"
	KindConfig  = "config"
	KindSecret  = "secret"
)

// Change says what an apply did.
type Change string

const (
	Unchanged Change = ""
	Created   Change = "created"
	Updated   Change = "updated"
	// Held: the update was not applied (see ApplyService).
	Held Change = "held"
)

// ConflictError: an object with the desired name exists and Kargo does not
// own it (or another Stack does). Kargo leaves it untouched.
type ConflictError struct {
	Kind, Name, Owner string
}

func (e *ConflictError) Error() string {
	if e.Owner == "" {
		return fmt.Sprintf("%s %s exists and is not managed by Kargo: remove or rename it", e.Kind, e.Name)
	}
	return fmt.Sprintf("%s %s is owned by %s", e.Kind, e.Name, e.Owner)
}

// IsNotFound tells whether err means the Swarm object does not exist.
func IsNotFound(err error) bool { return errdefs.IsNotFound(err) }

// Hash is a short, stable digest of a value's JSON.
func Hash(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("hash: %v", err)) // only types that always marshal are hashed
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:16]
}

func checkOwner(kind, name string, labels map[string]string, owner string) error {
	if got := labels[kargov1.OwnerLabel]; got != owner {
		return &ConflictError{Kind: kind, Name: name, Owner: got}
	}
	return nil
}

func ownerFilter(owner string) filters.Args {
	return filters.NewArgs(filters.Arg("label", kargov1.OwnerLabel+"="+owner))
}

// ServiceResult is the outcome of applying a service.
type ServiceResult struct {
	ID     string
	Change Change
	// Drift lists the fields that differed from the desired spec when the
	// live service was changed by someone else.
	Drift []string
}

// ApplyService makes the Swarm service match spec: create when missing,
// update only when the live spec differs from the desired one after
// normalization (so an unchanged service costs no write), retry when the
// engine reports a concurrent update. With retryFailed false, a service
// whose last update Swarm paused or rolled back is left Held: applying the
// spec that failed again would loop.
func (c *Client) ApplyService(ctx context.Context, spec swarm.ServiceSpec, owner string, retryFailed bool) (ServiceResult, error) {
	desiredHash := SpecHash(spec)
	spec.Labels[kargov1.SpecHashLabel] = desiredHash
	for attempt := 0; ; attempt++ {
		live, _, err := c.api.ServiceInspectWithRaw(ctx, spec.Name, swarm.ServiceInspectOptions{})
		if IsNotFound(err) {
			resp, err := c.api.ServiceCreate(ctx, spec, swarm.ServiceCreateOptions{})
			if err != nil {
				return ServiceResult{}, fmt.Errorf("create service %s: %w", spec.Name, err)
			}
			return ServiceResult{ID: resp.ID, Change: Created}, nil
		}
		if err != nil {
			return ServiceResult{}, fmt.Errorf("inspect service %s: %w", spec.Name, err)
		}
		if err := checkOwner(KindService, spec.Name, live.Spec.Labels, owner); err != nil {
			return ServiceResult{ID: live.ID}, err
		}
		drift := Diff(Normalize(spec), Normalize(live.Spec))
		if len(drift) == 0 {
			return ServiceResult{ID: live.ID, Change: Unchanged}, nil
		}
		if !retryFailed && live.UpdateStatus != nil && UpdateFailed(string(live.UpdateStatus.State)) {
			return ServiceResult{ID: live.ID, Change: Held}, nil
		}
		// A changed spec hash means the user changed the Service; the same
		// hash with a different live spec means someone changed the Swarm.
		result := ServiceResult{ID: live.ID, Change: Updated}
		if live.Spec.Labels[kargov1.SpecHashLabel] == desiredHash {
			result.Drift = drift
		}
		_, err = c.api.ServiceUpdate(ctx, live.ID, live.Version, spec, swarm.ServiceUpdateOptions{})
		if err != nil && strings.Contains(err.Error(), "update out of sequence") && attempt < 3 {
			continue
		}
		if err != nil {
			return ServiceResult{ID: live.ID}, fmt.Errorf("update service %s: %w", spec.Name, err)
		}
		return result, nil
	}
}

// SpecHash identifies a desired service spec: the value of the spec-hash
// label ApplyService puts on the service.
func SpecHash(spec swarm.ServiceSpec) string {
	return Hash(Normalize(spec))
}

// ListServices returns the services the owner has on the Swarm.
func (c *Client) ListServices(ctx context.Context, owner string) ([]swarm.Service, error) {
	services, err := c.api.ServiceList(ctx, swarm.ServiceListOptions{Filters: ownerFilter(owner), Status: true})
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	return services, nil
}

// RemoveService removes a service; a service already gone is not an error.
func (c *Client) RemoveService(ctx context.Context, id string) error {
	if err := c.api.ServiceRemove(ctx, id); err != nil && !IsNotFound(err) {
		return fmt.Errorf("remove service %s: %w", id, err)
	}
	return nil
}

// NetworkSpec is a network Kargo creates.
type NetworkSpec struct {
	Name       string
	Driver     string
	Attachable bool
	Internal   bool
	Encrypted  bool
	Options    map[string]string
	Labels     map[string]string
}

// EnsureNetwork creates the network when missing and returns its ID. An
// existing network is left as it is: Swarm cannot change a network in
// place, and recreating it would cut every service attached to it.
func (c *Client) EnsureNetwork(ctx context.Context, spec NetworkSpec, owner string) (string, Change, error) {
	live, err := c.api.NetworkInspect(ctx, spec.Name, network.InspectOptions{Scope: "swarm"})
	if err == nil {
		// NetworkInspect matches ID prefixes too; only a name match counts.
		if live.Name == spec.Name {
			return live.ID, Unchanged, checkOwner(KindNetwork, spec.Name, live.Labels, owner)
		}
	} else if !IsNotFound(err) {
		return "", Unchanged, fmt.Errorf("inspect network %s: %w", spec.Name, err)
	}
	options := map[string]string{}
	for k, v := range spec.Options {
		options[k] = v
	}
	if spec.Encrypted {
		options["encrypted"] = ""
	}
	driver := spec.Driver
	if driver == "" {
		driver = "overlay"
	}
	resp, err := c.api.NetworkCreate(ctx, spec.Name, network.CreateOptions{
		Driver: driver, Scope: "swarm", Attachable: spec.Attachable, Internal: spec.Internal,
		Options: options, Labels: spec.Labels,
	})
	if err != nil {
		return "", Unchanged, fmt.Errorf("create network %s: %w", spec.Name, err)
	}
	return resp.ID, Created, nil
}

// ExternalNetwork returns the ID of a network that must already exist.
func (c *Client) ExternalNetwork(ctx context.Context, name string) (string, error) {
	live, err := c.api.NetworkInspect(ctx, name, network.InspectOptions{})
	if err != nil {
		return "", fmt.Errorf("external network %s: %w", name, err)
	}
	return live.ID, nil
}

// ListNetworks returns the networks the owner has on the Swarm.
func (c *Client) ListNetworks(ctx context.Context, owner string) ([]network.Summary, error) {
	nets, err := c.api.NetworkList(ctx, network.ListOptions{Filters: ownerFilter(owner)})
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	return nets, nil
}

// RemoveNetwork removes a network; one already gone is not an error.
func (c *Client) RemoveNetwork(ctx context.Context, id string) error {
	if err := c.api.NetworkRemove(ctx, id); err != nil && !IsNotFound(err) {
		return fmt.Errorf("remove network %s: %w", id, err)
	}
	return nil
}

// FileObject is a config or secret version: its name carries a hash of the
// content, since Swarm configs and secrets cannot change.
type FileObject struct {
	Kind   string // KindConfig or KindSecret
	Name   string
	Data   []byte
	Labels map[string]string
}

// VersionedName names a config or secret version after its content.
func VersionedName(namespace, name string, data []byte) string {
	sum := sha256.Sum256(data)
	return ScopedName(namespace, name) + "-" + hex.EncodeToString(sum[:])[:10]
}

// EnsureFile creates the config or secret version when missing.
func (c *Client) EnsureFile(ctx context.Context, obj FileObject, owner string) (ObjectRef, Change, error) {
	var (
		id     string
		labels map[string]string
		err    error
	)
	switch obj.Kind {
	case KindConfig:
		var live swarm.Config
		live, _, err = c.api.ConfigInspectWithRaw(ctx, obj.Name)
		id, labels = live.ID, live.Spec.Labels
	case KindSecret:
		var live swarm.Secret
		live, _, err = c.api.SecretInspectWithRaw(ctx, obj.Name)
		id, labels = live.ID, live.Spec.Labels
	default:
		return ObjectRef{}, Unchanged, fmt.Errorf("unknown kind %q", obj.Kind)
	}
	if err == nil {
		return ObjectRef{ID: id, Name: obj.Name}, Unchanged, checkOwner(obj.Kind, obj.Name, labels, owner)
	}
	if !IsNotFound(err) {
		return ObjectRef{}, Unchanged, fmt.Errorf("inspect %s %s: %w", obj.Kind, obj.Name, err)
	}
	annotations := swarm.Annotations{Name: obj.Name, Labels: obj.Labels}
	if obj.Kind == KindConfig {
		resp, err := c.api.ConfigCreate(ctx, swarm.ConfigSpec{Annotations: annotations, Data: obj.Data})
		if err != nil {
			return ObjectRef{}, Unchanged, fmt.Errorf("create config %s: %w", obj.Name, err)
		}
		return ObjectRef{ID: resp.ID, Name: obj.Name}, Created, nil
	}
	resp, err := c.api.SecretCreate(ctx, swarm.SecretSpec{Annotations: annotations, Data: obj.Data})
	if err != nil {
		// The engine's message never carries the secret's data.
		return ObjectRef{}, Unchanged, fmt.Errorf("create secret %s: %w", obj.Name, err)
	}
	return ObjectRef{ID: resp.ID, Name: obj.Name}, Created, nil
}

// OwnedFile is a config or secret on the Swarm.
type OwnedFile struct {
	Kind, ID, Name string
}

// ListFiles returns the configs and secrets the owner has on the Swarm.
func (c *Client) ListFiles(ctx context.Context, owner string) ([]OwnedFile, error) {
	configs, err := c.api.ConfigList(ctx, swarm.ConfigListOptions{Filters: ownerFilter(owner)})
	if err != nil {
		return nil, fmt.Errorf("list configs: %w", err)
	}
	secrets, err := c.api.SecretList(ctx, swarm.SecretListOptions{Filters: ownerFilter(owner)})
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	out := make([]OwnedFile, 0, len(configs)+len(secrets))
	for _, cfg := range configs {
		out = append(out, OwnedFile{Kind: KindConfig, ID: cfg.ID, Name: cfg.Spec.Name})
	}
	for _, s := range secrets {
		out = append(out, OwnedFile{Kind: KindSecret, ID: s.ID, Name: s.Spec.Name})
	}
	return out, nil
}

// ErrInUse: Swarm refuses to remove a config or secret a service still uses.
var ErrInUse = errors.New("in use")

// RemoveFile removes a config or secret; one already gone is not an error.
func (c *Client) RemoveFile(ctx context.Context, f OwnedFile) error {
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
