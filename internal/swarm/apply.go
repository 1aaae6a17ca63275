package swarm

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
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

// Digest is the HMAC-SHA256 of data under key, in hex. Where a digest of
// secret data is shown (a Swarm secret's name, a spec hash), it is keyed: a
// plain hash of a short secret is reversed by trying values, a keyed one
// cannot be without the key.
func Digest(key, data []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(data)
	return hex.EncodeToString(mac.Sum(nil))
}

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
// engine reports a concurrent update. owned is the owner's listing of this
// pass (nil: the service is inspected by name); a service of that name
// that is not in it belongs to someone else, found when creating fails.
// With retryFailed false, a service whose last update Swarm paused or
// rolled back is left Held: applying the spec that failed again would loop.
// desiredHash is the spec's SpecHash, put in its spec-hash label.
func (c *Client) ApplyService(ctx context.Context, spec swarm.ServiceSpec, desiredHash, owner string, retryFailed bool, owned *Owned) (ServiceResult, error) {
	// The caller's labels stay as they were.
	spec.Labels = maps.Clone(spec.Labels)
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	spec.Labels[kargov1.SpecHashLabel] = desiredHash
	var (
		live  swarm.Service
		found bool
		err   error
	)
	if owned != nil {
		live, found = owned.Service(spec.Name)
	} else if live, found, err = c.InspectService(ctx, spec.Name); err != nil {
		return ServiceResult{}, err
	}
	for attempt := 0; ; attempt++ {
		if !found {
			resp, err := c.api.ServiceCreate(ctx, spec, swarm.ServiceCreateOptions{})
			if err == nil {
				return ServiceResult{ID: resp.ID, Change: Created}, nil
			}
			if !isNameConflict(err) || attempt >= 3 {
				return ServiceResult{}, fmt.Errorf("create service %s: %w", spec.Name, err)
			}
			if live, found, err = c.InspectService(ctx, spec.Name); err != nil {
				return ServiceResult{}, err
			}
			continue
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
			if live, found, err = c.InspectService(ctx, spec.Name); err != nil {
				return ServiceResult{}, err
			}
			continue
		}
		if err != nil {
			return ServiceResult{ID: live.ID}, fmt.Errorf("update service %s: %w", spec.Name, err)
		}
		return result, nil
	}
}

// SpecHash identifies a desired service spec: the value of the spec-hash
// label ApplyService puts on the service, also recorded in the Stack's
// status. The values of the env entries secretEnv names (read from
// Secrets) enter it only as their Digest under key: the hash changes with
// them but tells nothing of them to whoever lacks the key.
func SpecHash(spec swarm.ServiceSpec, secretEnv []string, key []byte) string {
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil && len(secretEnv) > 0 {
		masked := *cs
		masked.Env = slices.Clone(cs.Env)
		for i, e := range masked.Env {
			if name, value, _ := strings.Cut(e, "="); slices.Contains(secretEnv, name) {
				masked.Env[i] = name + "=" + Digest(key, []byte(value))
			}
		}
		spec.TaskTemplate.ContainerSpec = &masked // spec is a copy: the caller's stays as it was
	}
	return Hash(Normalize(spec))
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
// place, and recreating it would cut every service attached to it. owned is
// the owner's listing of this pass (nil: the network is inspected by name).
func (c *Client) EnsureNetwork(ctx context.Context, spec NetworkSpec, owner string, owned *Owned) (string, Change, error) {
	if owned != nil {
		if live, ok := owned.Network(spec.Name); ok {
			return live.ID, Unchanged, nil
		}
	} else if id, err := c.foreignNetwork(ctx, spec.Name, owner); id != "" || err != nil {
		return id, Unchanged, err
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
	if err != nil && isNameConflict(err) {
		if id, ferr := c.foreignNetwork(ctx, spec.Name, owner); id != "" || ferr != nil {
			return id, Unchanged, ferr
		}
	}
	if err != nil {
		return "", Unchanged, fmt.Errorf("create network %s: %w", spec.Name, err)
	}
	return resp.ID, Created, nil
}

// foreignNetwork inspects the network of that name: its ID when the owner
// has it, a ConflictError when someone else does, "" when there is none.
func (c *Client) foreignNetwork(ctx context.Context, name, owner string) (string, error) {
	live, err := c.api.NetworkInspect(ctx, name, network.InspectOptions{Scope: "swarm"})
	if IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("inspect network %s: %w", name, err)
	}
	// NetworkInspect matches ID prefixes too; only a name match counts.
	if live.Name != name {
		return "", nil
	}
	return live.ID, checkOwner(KindNetwork, name, live.Labels, owner)
}

// ExternalNetwork returns the ID of a network that must already exist,
// found by its exact name: the engine's inspect also matches an ID or an ID
// prefix, which could pick another tenant's network.
func (c *Client) ExternalNetwork(ctx context.Context, name string) (string, error) {
	live, err := c.api.NetworkInspect(ctx, name, network.InspectOptions{})
	if err != nil {
		return "", fmt.Errorf("external network %s: %w", name, err)
	}
	if live.Name != name {
		return "", fmt.Errorf("external network %s: no network has that name (an ID or ID prefix matched network %s; name networks exactly)", name, live.Name)
	}
	return live.ID, nil
}

// FileObject is a config or secret version: its name carries a keyed
// digest of the content (VersionedName), since Swarm configs and secrets
// cannot change.
type FileObject struct {
	Kind   string // KindConfig or KindSecret
	Name   string
	Data   []byte
	Labels map[string]string
}

// VersionedName names a config or secret version after its content:
// <namespace>_<name>-<first 10 hex digits of Digest(key, data)>. The key
// is the Stack's naming key, so the name tells versions apart without
// revealing a hash of the content (docker secret ls shows names to anyone
// on the Swarm).
func VersionedName(key []byte, namespace, name string, data []byte) string {
	return ScopedName(namespace, name) + "-" + Digest(key, data)[:10]
}

// EnsureFile creates the config or secret version when missing. owned is
// the owner's listing of this pass (nil: the object is inspected by name).
func (c *Client) EnsureFile(ctx context.Context, obj FileObject, owner string, owned *Owned) (ObjectRef, Change, error) {
	if obj.Kind != KindConfig && obj.Kind != KindSecret {
		return ObjectRef{}, Unchanged, fmt.Errorf("unknown kind %q", obj.Kind)
	}
	if owned != nil {
		if live, ok := owned.File(obj.Kind, obj.Name); ok {
			return ObjectRef{ID: live.ID, Name: obj.Name}, Unchanged, nil
		}
	} else if ref, err := c.foreignFile(ctx, obj.Kind, obj.Name, owner); ref.ID != "" || err != nil {
		return ref, Unchanged, err
	}
	annotations := swarm.Annotations{Name: obj.Name, Labels: obj.Labels}
	var (
		id  string
		err error
	)
	if obj.Kind == KindConfig {
		var resp swarm.ConfigCreateResponse
		resp, err = c.api.ConfigCreate(ctx, swarm.ConfigSpec{Annotations: annotations, Data: obj.Data})
		id = resp.ID
	} else {
		var resp swarm.SecretCreateResponse
		resp, err = c.api.SecretCreate(ctx, swarm.SecretSpec{Annotations: annotations, Data: obj.Data})
		id = resp.ID
	}
	if err != nil && isNameConflict(err) {
		if ref, ferr := c.foreignFile(ctx, obj.Kind, obj.Name, owner); ref.ID != "" || ferr != nil {
			return ref, Unchanged, ferr
		}
	}
	if err != nil {
		// The engine's message never carries the secret's data.
		return ObjectRef{}, Unchanged, fmt.Errorf("create %s %s: %w", obj.Kind, obj.Name, err)
	}
	return ObjectRef{ID: id, Name: obj.Name}, Created, nil
}

// foreignFile inspects the config or secret of that name: it when the owner
// has it, a ConflictError when someone else does, a zero ref when there is
// none.
func (c *Client) foreignFile(ctx context.Context, kind, name, owner string) (ObjectRef, error) {
	var (
		id     string
		labels map[string]string
		err    error
	)
	if kind == KindConfig {
		var live swarm.Config
		live, _, err = c.api.ConfigInspectWithRaw(ctx, name)
		id, labels = live.ID, live.Spec.Labels
	} else {
		var live swarm.Secret
		live, _, err = c.api.SecretInspectWithRaw(ctx, name)
		id, labels = live.ID, live.Spec.Labels
	}
	if IsNotFound(err) {
		return ObjectRef{}, nil
	}
	if err != nil {
		return ObjectRef{}, fmt.Errorf("inspect %s %s: %w", kind, name, err)
	}
	return ObjectRef{ID: id, Name: name}, checkOwner(kind, name, labels, owner)
}

// OwnedFile is a config or secret on the Swarm.
type OwnedFile struct {
	Kind, ID, Name string
	// Logical is the name manifests use (the swarm.kargo.io/name label),
	// the same for every version.
	Logical string
}
