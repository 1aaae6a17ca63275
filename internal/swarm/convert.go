package swarm

import (
	"fmt"
	"maps"
	"math"
	"math/big"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// ObjectRef is a Swarm config or secret (a content-named version of it).
type ObjectRef struct {
	ID   string
	Name string
}

// Labels are the labels that say whose an object is: its Swarm namespace,
// owner and manager.
func (objs StackObjects) Labels() map[string]string {
	labels := map[string]string{kargov1.StackNamespaceLabel: objs.Namespace, kargov1.OwnerLabel: objs.Owner}
	if objs.Manager != "" {
		labels[kargov1.ManagerLabel] = objs.Manager
	}
	return labels
}

// Claim is whose objects a listing keeps (see ListOwned).
func (objs StackObjects) Claim() Claim {
	return Claim{Namespace: objs.Namespace, Owner: objs.Owner, Manager: objs.Manager}
}

// StackObjects is what a Service refers to by logical name, resolved to
// Swarm objects by the Stack's earlier phases.
type StackObjects struct {
	// Namespace is the Swarm stack namespace.
	Namespace string
	// Owner is the value of the owner label, Manager of the manager label
	// (none when empty).
	Owner, Manager string
	// Networks maps a logical network name to the Swarm network ID.
	Networks map[string]string
	// NetworkNames maps a logical network name to the Swarm network's
	// name: <namespace>_<name>, the swarmName, or the external network's
	// name; one not listed is taken to be <namespace>_<name>. A service's
	// attachments are ordered by it, as docker stack deploy orders them.
	NetworkNames map[string]string
	// Configs and Secrets map logical names to the Swarm object in use.
	Configs map[string]ObjectRef
	Secrets map[string]ObjectRef
	// Env holds the values of env entries that use valueFrom, by env name.
	Env map[string]string
}

// ScopedName is the Swarm name of a stack object, as docker stack deploy makes it.
func ScopedName(namespace, name string) string { return namespace + "_" + name }

// ServiceSpec converts a Service to the Swarm service spec Kargo applies. It
// is deterministic: the same inputs give the same spec, so its hash tells
// whether anything changed.
func ServiceSpec(svc *kargov1.Service, objs StackObjects) (swarm.ServiceSpec, error) {
	s := svc.Spec
	name := ScopedName(objs.Namespace, svc.Name)
	env, err := envList(s.Env, objs.Env)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	mounts, err := convertMounts(objs.Namespace, s.Mounts)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	configs, err := convertConfigs(s.Configs, objs.Configs)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	secrets, err := convertSecrets(s.Secrets, objs.Secrets)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	networks, err := convertNetworks(svc.Name, s.Networks, objs)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	resources, err := convertResources(s.Resources)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	healthcheck := convertHealthcheck(s.Healthcheck)

	spec := swarm.ServiceSpec{
		Annotations: swarm.Annotations{
			Name:   name,
			Labels: withLabels(s.Labels, objs.Labels()),
		},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image:           s.Image,
				Labels:          withLabels(s.ContainerLabels, map[string]string{kargov1.StackNamespaceLabel: objs.Namespace}),
				Command:         s.Command,
				Args:            s.Args,
				Hostname:        s.Hostname,
				Env:             env,
				Dir:             s.WorkingDir,
				User:            s.User,
				Mounts:          mounts,
				StopGracePeriod: duration(s.StopGracePeriod),
				Healthcheck:     healthcheck,
				Configs:         configs,
				Secrets:         secrets,
				// docker stack deploy always sends an empty Privileges, which
				// the engine keeps (NoNewPrivileges: false).
				Privileges: &swarm.Privileges{},
			},
			Resources:     resources,
			RestartPolicy: convertRestartPolicy(s.RestartPolicy),
			Placement:     convertPlacement(s.Placement),
			Networks:      networks,
			LogDriver:     convertLogging(s.Logging),
		},
		UpdateConfig:   convertUpdateConfig(s.UpdateConfig),
		RollbackConfig: convertUpdateConfig(s.RollbackConfig),
		EndpointSpec:   convertEndpoint(s.EndpointMode, s.Ports),
	}
	if s.Mode == "global" {
		spec.Mode.Global = &swarm.GlobalService{}
	} else {
		replicas := uint64(1)
		if s.Replicas != nil {
			replicas = uint64(*s.Replicas)
		}
		spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &replicas}
	}
	return spec, nil
}

func withLabels(user map[string]string, kargo map[string]string) map[string]string {
	out := make(map[string]string, len(user)+len(kargo))
	maps.Copy(out, user)
	for k, v := range kargo {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

func envList(env []kargov1.EnvVar, resolved map[string]string) ([]string, error) {
	if len(env) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(env))
	for i, e := range env {
		value := e.Value
		if e.ValueFrom != nil {
			v, ok := resolved[e.Name]
			if !ok {
				return nil, fmt.Errorf("spec.env[%d] (%s): valueFrom not resolved", i, e.Name)
			}
			value = v
		}
		out = append(out, e.Name+"="+value)
	}
	return out, nil
}

func convertMounts(namespace string, in []kargov1.Mount) ([]mount.Mount, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]mount.Mount, 0, len(in))
	for i, m := range in {
		mt := mount.Mount{Target: m.Target, ReadOnly: m.ReadOnly}
		switch m.Type {
		case "bind":
			mt.Type = mount.TypeBind
			mt.Source = m.Source
		case "tmpfs":
			mt.Type = mount.TypeTmpfs
			if o := m.TmpfsOptions; o != nil {
				mt.TmpfsOptions = &mount.TmpfsOptions{}
				if o.Size != nil {
					mt.TmpfsOptions.SizeBytes = o.Size.Value()
				}
				if o.Mode != nil {
					mt.TmpfsOptions.Mode = fileMode(*o.Mode)
				}
			}
		case "", "volume":
			mt.Type = mount.TypeVolume
			// Named volumes are scoped to the stack as docker stack deploy does;
			// an absolute-looking source would be a mistake caught by validation.
			if m.Source != "" {
				mt.Source = ScopedName(namespace, m.Source)
			}
			if o := m.VolumeOptions; o != nil {
				mt.VolumeOptions = &mount.VolumeOptions{NoCopy: o.NoCopy, Labels: o.Labels}
				if o.Driver != "" || len(o.DriverOpts) > 0 {
					mt.VolumeOptions.DriverConfig = &mount.Driver{Name: o.Driver, Options: o.DriverOpts}
				}
			}
			// A named volume carries the stack label, as docker stack deploy
			// gives it; an anonymous one (no source) does not.
			if m.Source != "" {
				labels := map[string]string{kargov1.StackNamespaceLabel: namespace}
				if mt.VolumeOptions == nil {
					mt.VolumeOptions = &mount.VolumeOptions{}
				}
				mt.VolumeOptions.Labels = withLabels(mt.VolumeOptions.Labels, labels)
			}
		default:
			return nil, fmt.Errorf("spec.mounts[%d]: unknown type %q", i, m.Type)
		}
		out = append(out, mt)
	}
	return out, nil
}

func fileMode(mode int32) os.FileMode { return os.FileMode(uint32(mode)) }

func fileRef(kind string, i int, ref kargov1.FileReference, objs map[string]ObjectRef) (ObjectRef, *swarm.ConfigReferenceFileTarget, error) {
	obj, ok := objs[ref.Name]
	if !ok {
		return ObjectRef{}, nil, fmt.Errorf("spec.%s[%d]: %s %q is not declared in the Stack", kind, i, strings.TrimSuffix(kind, "s"), ref.Name)
	}
	// The target is passed as docker stack deploy passes it: the name by
	// default, a relative path as it is. The engine puts a relative target
	// under / for configs and /run/secrets for secrets, so the file lands
	// where the API documents it.
	target := ref.Target
	if target == "" {
		target = ref.Name
	}
	uid, gid := ref.UID, ref.GID
	if uid == "" {
		uid = "0"
	}
	if gid == "" {
		gid = "0"
	}
	mode := os.FileMode(0o444)
	if ref.Mode != nil {
		mode = fileMode(*ref.Mode)
	}
	return obj, &swarm.ConfigReferenceFileTarget{Name: target, UID: uid, GID: gid, Mode: mode}, nil
}

func convertConfigs(in []kargov1.FileReference, objs map[string]ObjectRef) ([]*swarm.ConfigReference, error) {
	var out []*swarm.ConfigReference
	for i, ref := range in {
		obj, file, err := fileRef("configs", i, ref, objs)
		if err != nil {
			return nil, err
		}
		out = append(out, &swarm.ConfigReference{File: file, ConfigID: obj.ID, ConfigName: obj.Name})
	}
	return out, nil
}

func convertSecrets(in []kargov1.FileReference, objs map[string]ObjectRef) ([]*swarm.SecretReference, error) {
	var out []*swarm.SecretReference
	for i, ref := range in {
		obj, file, err := fileRef("secrets", i, ref, objs)
		if err != nil {
			return nil, err
		}
		out = append(out, &swarm.SecretReference{
			File:     &swarm.SecretReferenceFileTarget{Name: file.Name, UID: file.UID, GID: file.GID, Mode: file.Mode},
			SecretID: obj.ID, SecretName: obj.Name,
		})
	}
	return out, nil
}

func convertNetworks(service string, in []kargov1.NetworkAttachment, objs StackObjects) ([]swarm.NetworkAttachmentConfig, error) {
	var out []swarm.NetworkAttachmentConfig
	names := map[string]string{} // ID -> Swarm name
	for i, n := range in {
		id, ok := objs.Networks[n.Name]
		if !ok {
			return nil, fmt.Errorf("spec.networks[%d]: network %q is not declared in the Stack", i, n.Name)
		}
		// docker stack deploy appends the service name to the aliases.
		aliases := append(slices.Clone(n.Aliases), service)
		out = append(out, swarm.NetworkAttachmentConfig{Target: id, Aliases: aliases})
		names[id] = objs.NetworkNames[n.Name]
		if names[id] == "" {
			names[id] = ScopedName(objs.Namespace, n.Name)
		}
	}
	// docker stack deploy sorts the attachments by network name (and the
	// engine then keeps that order with the names turned into IDs).
	slices.SortFunc(out, func(a, b swarm.NetworkAttachmentConfig) int { return strings.Compare(names[a.Target], names[b.Target]) })
	return out, nil
}

func convertResources(in *kargov1.Resources) (*swarm.ResourceRequirements, error) {
	if in == nil {
		return nil, nil
	}
	limits, err := amounts(in.Limits, "limits")
	if err != nil {
		return nil, err
	}
	reservations, err := amounts(in.Reservations, "reservations")
	if err != nil {
		return nil, err
	}
	out := &swarm.ResourceRequirements{}
	if limits != nil {
		out.Limits = &swarm.Limit{NanoCPUs: limits.NanoCPUs, MemoryBytes: limits.MemoryBytes}
	}
	if reservations != nil {
		out.Reservations = &swarm.Resources{NanoCPUs: reservations.NanoCPUs, MemoryBytes: reservations.MemoryBytes}
	}
	return out, nil
}

func amounts(in *kargov1.ResourceAmounts, field string) (*swarm.Resources, error) {
	if in == nil {
		return nil, nil
	}
	out := &swarm.Resources{}
	if in.CPUs != "" {
		nano, err := nanoCPUs(in.CPUs)
		if err != nil {
			return nil, fmt.Errorf("spec.resources.%s.cpus: %w", field, err)
		}
		out.NanoCPUs = nano
	}
	if in.Memory != nil {
		out.MemoryBytes = in.Memory.Value()
	}
	return out, nil
}

// nanoCPUs parses a decimal number of CPUs exactly, as docker's
// opts.ParseCPUs does: 0.3 is 300000000, where a float64 product gives
// 299999999. A value finer than a nanoCPU is rounded to the nearest.
func nanoCPUs(value string) (int64, error) {
	cpus, ok := new(big.Rat).SetString(value)
	if !ok {
		return 0, fmt.Errorf("%q is not a number", value)
	}
	nano := cpus.Mul(cpus, big.NewRat(1e9, 1))
	n, _ := nano.Float64()
	if !nano.IsInt() {
		return int64(math.Round(n)), nil
	}
	return nano.Num().Int64(), nil
}

func convertHealthcheck(in *kargov1.Healthcheck) *container.HealthConfig {
	if in == nil {
		return nil
	}
	if in.Disable {
		return &container.HealthConfig{Test: []string{"NONE"}}
	}
	out := &container.HealthConfig{
		Test:        in.Test,
		Interval:    derefDuration(in.Interval),
		Timeout:     derefDuration(in.Timeout),
		StartPeriod: derefDuration(in.StartPeriod),
	}
	if in.Retries != nil {
		out.Retries = int(*in.Retries)
	}
	return out
}

func convertRestartPolicy(in *kargov1.RestartPolicy) *swarm.RestartPolicy {
	if in == nil {
		return nil
	}
	out := &swarm.RestartPolicy{Delay: duration(in.Delay), Window: duration(in.Window)}
	switch in.Condition {
	case "none":
		out.Condition = swarm.RestartPolicyConditionNone
	case "on-failure":
		out.Condition = swarm.RestartPolicyConditionOnFailure
	case "any":
		out.Condition = swarm.RestartPolicyConditionAny
	}
	if in.MaxAttempts != nil {
		n := uint64(*in.MaxAttempts)
		out.MaxAttempts = &n
	}
	return out
}

func convertPlacement(in *kargov1.Placement) *swarm.Placement {
	if in == nil {
		return nil
	}
	out := &swarm.Placement{Constraints: in.Constraints}
	for _, p := range in.Preferences {
		out.Preferences = append(out.Preferences, swarm.PlacementPreference{Spread: &swarm.SpreadOver{SpreadDescriptor: p.Spread}})
	}
	if in.MaxReplicasPerNode != nil {
		out.MaxReplicas = uint64(*in.MaxReplicasPerNode)
	}
	if len(out.Constraints) == 0 && len(out.Preferences) == 0 && out.MaxReplicas == 0 {
		return nil
	}
	return out
}

func convertLogging(in *kargov1.Logging) *swarm.Driver {
	if in == nil {
		return nil
	}
	return &swarm.Driver{Name: in.Driver, Options: in.Options}
}

func convertUpdateConfig(in *kargov1.UpdateConfig) *swarm.UpdateConfig {
	if in == nil {
		return nil
	}
	out := &swarm.UpdateConfig{
		Parallelism:   1,
		Delay:         derefDuration(in.Delay),
		FailureAction: in.FailureAction,
		Monitor:       derefDuration(in.Monitor),
		Order:         in.Order,
	}
	if in.Parallelism != nil {
		out.Parallelism = uint64(*in.Parallelism)
	}
	if in.MaxFailureRatio != "" {
		ratio, _ := strconv.ParseFloat(in.MaxFailureRatio, 32) // the schema's pattern admits only numbers
		out.MaxFailureRatio = float32(ratio)
	}
	return out
}

func convertEndpoint(mode string, ports []kargov1.Port) *swarm.EndpointSpec {
	out := &swarm.EndpointSpec{Mode: swarm.ResolutionModeVIP}
	if mode == "dnsrr" {
		out.Mode = swarm.ResolutionModeDNSRR
	}
	for _, p := range ports {
		pc := swarm.PortConfig{
			Protocol:      swarm.PortConfigProtocolTCP,
			TargetPort:    uint32(p.Target),
			PublishedPort: uint32(p.Published),
			PublishMode:   swarm.PortConfigPublishModeIngress,
		}
		switch p.Protocol {
		case "udp":
			pc.Protocol = swarm.PortConfigProtocolUDP
		case "sctp":
			pc.Protocol = swarm.PortConfigProtocolSCTP
		}
		if p.Mode == "host" {
			pc.PublishMode = swarm.PortConfigPublishModeHost
		}
		out.Ports = append(out.Ports, pc)
	}
	return out
}

func duration(d *metav1.Duration) *time.Duration {
	if d == nil {
		return nil
	}
	v := d.Duration
	return &v
}

func derefDuration(d *metav1.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.Duration
}
