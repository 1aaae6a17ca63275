package compose

import (
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/google/shlex"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kargo-io/kargo/api/v1alpha1"
)

// convertService maps one compose service as docker/cli's
// convert.Service does, onto Kargo's Service. It returns nil when the
// service cannot be expressed at all.
func (c *converter) convertService(s types.ServiceConfig) (*v1alpha1.Service, error) {
	where := "service " + s.Name
	if !dnsLabel.MatchString(s.Name) || len(s.Name) > 63 {
		c.is.unsupported("%s: the name must be a DNS label for a Kargo Service (lower case letters, digits and -, at most 63)", where)
		return nil, nil
	}
	if s.Image == "" {
		return nil, fmt.Errorf("%s: no image (docker stack deploy needs one; build is ignored in swarm mode)", where)
	}
	svc := &v1alpha1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Service"},
		ObjectMeta: c.meta(s.Name),
	}
	spec := &svc.Spec
	spec.StackRef = v1alpha1.LocalObjectReference{Name: c.opts.Stack}
	spec.Image = s.Image
	// Kargo follows Kubernetes: command is the entrypoint, args the command.
	var err error
	if spec.Command, err = c.shellCommand(where, s.Name, "entrypoint", s.Entrypoint); err != nil {
		return nil, err
	}
	if spec.Args, err = c.shellCommand(where, s.Name, "command", s.Command); err != nil {
		return nil, err
	}
	spec.Hostname = s.Hostname
	spec.User = s.User
	spec.WorkingDir = s.WorkingDir
	if s.StopGracePeriod != nil {
		spec.StopGracePeriod = duration(*s.StopGracePeriod)
	}
	if len(s.Labels) > 0 {
		spec.ContainerLabels = map[string]string(s.Labels)
	}
	if s.Logging != nil && (s.Logging.Driver != "" || len(s.Logging.Options) > 0) {
		if s.Logging.Driver == "" {
			c.is.unsupported("%s: logging: options without driver (Kargo needs logging.driver)", where)
		} else {
			spec.Logging = &v1alpha1.Logging{Driver: s.Logging.Driver}
			if len(s.Logging.Options) > 0 {
				spec.Logging.Options = map[string]string(s.Logging.Options)
			}
		}
	}

	env, err := c.environment(where, s)
	if err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(env)) {
		v := env[name]
		if v == nil {
			c.is.unsupported("%s: environment %s: no value (not in the --env-file files): docker passes the bare name, Kargo cannot", where, name)
			continue
		}
		spec.Env = append(spec.Env, v1alpha1.EnvVar{Name: name, Value: *v})
	}
	// docker sorts the NAME=value strings (A1=x before A=y).
	slices.SortStableFunc(spec.Env, func(a, b v1alpha1.EnvVar) int {
		return strings.Compare(a.Name+"="+a.Value, b.Name+"="+b.Value)
	})

	c.convertPorts(where, s, spec)
	c.convertAttachments(where, s, spec)
	c.convertMounts(where, s, spec)
	c.convertFileRefs(where, s, spec)
	c.convertHealthcheck(where, s, spec)
	if err := c.convertDeploy(where, s, spec); err != nil {
		return nil, err
	}
	return svc, nil
}

// shellCommand is a command or entrypoint as docker's loader makes it: a
// string is split by github.com/google/shlex, which keeps && | ; as words
// and drops a # comment (compose-go's shellwords stops at the first
// operator); a list is taken as it is.
func (c *converter) shellCommand(where, service, key string, parsed types.ShellCommand) ([]string, error) {
	if str, ok := rawMap(c.raw, "services", service)[key].(string); ok {
		words, err := shlex.Split(str)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", where, key, err)
		}
		return words, nil
	}
	return []string(parsed), nil
}

// environment resolves env_file and environment as docker's loader does
// (resolveEnvironment of github.com/docker/cli/cli/compose/loader): each
// env file is read line by line (github.com/docker/cli/pkg/kvfile), a value
// kept as written (quotes and spaces included, no interpolation), a line
// without = taking the variable's value (left out when unset); then the
// environment entries override them. Where an entry (of a file or of
// environment) has no value or an empty one, a set variable gives it.
// Variables are those of the --env-file files.
func (c *converter) environment(where string, s types.ServiceConfig) (types.MappingWithEquals, error) {
	lookup := func(name string) (string, bool) {
		v, ok := c.project.Environment[name]
		return v, ok
	}
	env := types.MappingWithEquals{}
	update := func(vars types.MappingWithEquals) {
		for name, v := range vars {
			if value, ok := lookup(name); (v == nil || *v == "") && ok {
				env[name] = &value
			} else {
				env[name] = v
			}
		}
	}
	fromFiles := types.MappingWithEquals{}
	for _, f := range s.EnvFiles {
		file := f.Path
		if !filepath.IsAbs(file) {
			file = filepath.Join(c.project.WorkingDir, file)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("%s: env_file: %w", where, err)
		}
		for i, line := range strings.Split(strings.TrimPrefix(string(data), "\ufeff"), "\n") {
			line = strings.TrimLeftFunc(strings.TrimSuffix(line, "\r"), unicode.IsSpace)
			if line == "" || line[0] == '#' {
				continue
			}
			name, value, hasValue := strings.Cut(line, "=")
			if name == "" || strings.ContainsAny(name, " \t") {
				return nil, fmt.Errorf("%s: env_file %s line %d: no valid variable name", where, relPath(file), i+1)
			}
			if hasValue {
				fromFiles[name] = &value
			} else if v, ok := lookup(name); ok {
				fromFiles[name] = &v
			}
		}
	}
	update(fromFiles)
	update(s.Environment)
	return env, nil
}

func duration(d types.Duration) *metav1.Duration {
	return &metav1.Duration{Duration: time.Duration(d)}
}

func (c *converter) convertPorts(where string, s types.ServiceConfig, spec *v1alpha1.ServiceSpec) {
	seen := map[string]bool{}
	for i, p := range s.Ports {
		port := v1alpha1.Port{Target: int32(p.Target), Protocol: p.Protocol, Mode: p.Mode}
		if port.Protocol == "" {
			port.Protocol = "tcp"
		}
		if port.Mode == "" {
			port.Mode = "ingress"
		}
		if p.Published != "" {
			n, err := strconv.ParseUint(p.Published, 10, 16)
			if err != nil {
				c.is.unsupported("%s: ports[%d]: published %q: Kargo publishes one port per target, not a range", where, i, p.Published)
				continue
			}
			port.Published = int32(n)
		}
		key := fmt.Sprintf("%d/%s", port.Target, port.Protocol)
		if seen[key] {
			c.is.unsupported("%s: ports[%d]: target %s is published twice; Kargo keys ports by target and protocol", where, i, key)
			continue
		}
		seen[key] = true
		spec.Ports = append(spec.Ports, port)
	}
	// docker orders the ports by published port.
	slices.SortStableFunc(spec.Ports, func(a, b v1alpha1.Port) int { return int(a.Published) - int(b.Published) })
}

// convertAttachments attaches the service to the Stack's networks; Kargo
// adds the service name as an alias, as docker does.
func (c *converter) convertAttachments(where string, s types.ServiceConfig, spec *v1alpha1.ServiceSpec) {
	for _, name := range slices.Sorted(maps.Keys(s.Networks)) {
		if !c.networkSet[name] {
			continue // reported with the network
		}
		a := v1alpha1.NetworkAttachment{Name: name}
		if cfg := s.Networks[name]; cfg != nil {
			for _, alias := range cfg.Aliases {
				if alias != s.Name && !slices.Contains(a.Aliases, alias) {
					a.Aliases = append(a.Aliases, alias)
				}
			}
		}
		spec.Networks = append(spec.Networks, a)
	}
}

func (c *converter) convertMounts(where string, s types.ServiceConfig, spec *v1alpha1.ServiceSpec) {
	for i, v := range s.Volumes {
		w := fmt.Sprintf("%s: volumes[%d]", where, i)
		m := v1alpha1.Mount{Target: v.Target, ReadOnly: v.ReadOnly}
		switch v.Type {
		case types.VolumeTypeVolume, "":
			m.Type = "volume"
			if v.Source != "" {
				if !c.volumes[v.Source] {
					if _, declared := c.project.Volumes[v.Source]; !declared {
						c.is.unsupported("%s: volume %q is not declared in the top-level volumes", w, v.Source)
					}
					continue // reported with the volume
				}
				m.Source = v.Source
				top := c.project.Volumes[v.Source]
				opts := &v1alpha1.VolumeOptions{Driver: top.Driver}
				if v.Volume != nil {
					opts.NoCopy = v.Volume.NoCopy
				}
				if len(top.Labels) > 0 {
					opts.Labels = map[string]string(top.Labels)
				}
				if len(top.DriverOpts) > 0 {
					opts.DriverOpts = map[string]string(top.DriverOpts)
				}
				if opts.NoCopy || opts.Driver != "" || len(opts.Labels) > 0 || len(opts.DriverOpts) > 0 {
					m.VolumeOptions = opts
				}
			} else if v.Volume != nil && v.Volume.NoCopy {
				c.is.warn("%s: volume.nocopy: ignored by docker stack deploy for an anonymous volume, left out", w)
			}
		case types.VolumeTypeBind:
			m.Type = "bind"
			m.Source = v.Source
			if !path.IsAbs(m.Source) {
				c.is.unsupported("%s: bind source %q is not an absolute path", w, v.Source)
				continue
			}
		case types.VolumeTypeTmpfs:
			m.Type = "tmpfs"
			if v.Tmpfs != nil && v.Tmpfs.Size != 0 {
				m.TmpfsOptions = &v1alpha1.TmpfsOptions{Size: quantity(int64(v.Tmpfs.Size))}
			}
		default:
			c.is.unsupported("%s: type %s: Kargo mounts volume, bind and tmpfs only", w, v.Type)
			continue
		}
		spec.Mounts = append(spec.Mounts, m)
	}
}

// quantity is a byte count as a Kubernetes quantity (64Mi rather than
// 67108864 when it is a whole number of binary units).
func quantity(bytes int64) *resource.Quantity {
	return resource.NewQuantity(bytes, resource.BinarySI)
}

func (c *converter) convertFileRefs(where string, s types.ServiceConfig, spec *v1alpha1.ServiceSpec) {
	ref := func(r types.FileReferenceConfig) v1alpha1.FileReference {
		f := v1alpha1.FileReference{Name: r.Source, UID: r.UID, GID: r.GID}
		// docker's default target is the source name, Kargo's too; any
		// other target is passed as written, as docker does.
		if r.Target != "" && r.Target != r.Source {
			f.Target = r.Target
		}
		if r.Mode != nil {
			mode := int32(*r.Mode)
			f.Mode = &mode
		}
		return f
	}
	for _, r := range s.Configs {
		if c.configs[r.Source] {
			spec.Configs = append(spec.Configs, ref(types.FileReferenceConfig(r)))
		} else if _, declared := c.project.Configs[r.Source]; !declared {
			c.is.unsupported("%s: configs: %q is not declared in the top-level configs", where, r.Source)
		}
	}
	// compose-go gives a secret without target the target
	// /run/secrets/<source>; docker leaves it empty (the source name).
	written := map[string]bool{}
	eachMap(rawMap(c.raw, "services", s.Name)["secrets"], func(_ int, m map[string]any) {
		if src, ok := m["source"].(string); ok && m["target"] != nil {
			written[src] = true
		}
	})
	for _, r := range s.Secrets {
		if !written[r.Source] {
			r.Target = ""
		}
		if c.secrets[r.Source] {
			spec.Secrets = append(spec.Secrets, ref(types.FileReferenceConfig(r)))
		} else if _, declared := c.project.Secrets[r.Source]; !declared {
			c.is.unsupported("%s: secrets: %q is not declared in the top-level secrets", where, r.Source)
		}
	}
	// docker orders them by Swarm name, <stack>_<source>.
	byName := func(a, b v1alpha1.FileReference) int { return strings.Compare(a.Name, b.Name) }
	slices.SortStableFunc(spec.Configs, byName)
	slices.SortStableFunc(spec.Secrets, byName)
}

func (c *converter) convertHealthcheck(where string, s types.ServiceConfig, spec *v1alpha1.ServiceSpec) {
	h := s.HealthCheck
	if h == nil {
		return
	}
	if h.Disable {
		if len(h.Test) > 0 {
			c.is.unsupported("%s: healthcheck: test and disable cannot be set at the same time", where)
			return
		}
		spec.Healthcheck = &v1alpha1.Healthcheck{Disable: true}
		return
	}
	hc := &v1alpha1.Healthcheck{Test: []string(h.Test)}
	if h.Interval != nil {
		hc.Interval = duration(*h.Interval)
	}
	if h.Timeout != nil {
		hc.Timeout = duration(*h.Timeout)
	}
	if h.StartPeriod != nil {
		hc.StartPeriod = duration(*h.StartPeriod)
	}
	if h.Retries != nil {
		r := int64(*h.Retries)
		hc.Retries = &r
	}
	spec.Healthcheck = hc
}

func (c *converter) convertDeploy(where string, s types.ServiceConfig, spec *v1alpha1.ServiceSpec) error {
	d := s.Deploy
	if d == nil {
		d = &types.DeployConfig{}
	}
	switch d.Mode {
	case "", "replicated":
		if d.Replicas != nil {
			r := int64(*d.Replicas)
			spec.Replicas = &r
		}
	case "global":
		if d.Replicas != nil {
			return fmt.Errorf("%s: deploy.replicas can only be used with mode replicated (docker refuses it too)", where)
		}
		spec.Mode = "global"
	default:
		c.is.unsupported("%s: deploy.mode %s: Kargo runs replicated and global services only", where, d.Mode)
	}
	if len(d.Labels) > 0 {
		spec.Labels = map[string]string(d.Labels)
	}
	spec.EndpointMode = strings.ToLower(d.EndpointMode)

	p := d.Placement
	if len(p.Constraints) > 0 || len(p.Preferences) > 0 || p.MaxReplicas > 0 {
		pl := &v1alpha1.Placement{Constraints: p.Constraints}
		for _, pref := range p.Preferences {
			pl.Preferences = append(pl.Preferences, v1alpha1.PlacementPreference{Spread: pref.Spread})
		}
		if p.MaxReplicas > 0 {
			if spec.Mode == "global" {
				c.is.unsupported("%s: deploy.placement.max_replicas_per_node: not allowed with mode global in Kargo", where)
			} else {
				n := int64(p.MaxReplicas)
				pl.MaxReplicasPerNode = &n
			}
		}
		spec.Placement = pl
	}

	if r := d.Resources; r.Limits != nil || r.Reservations != nil {
		res := &v1alpha1.Resources{Limits: amounts(r.Limits), Reservations: amounts(r.Reservations)}
		if res.Limits != nil || res.Reservations != nil {
			spec.Resources = res
		}
	}

	switch {
	case d.RestartPolicy != nil:
		rp := d.RestartPolicy
		spec.RestartPolicy = &v1alpha1.RestartPolicy{Condition: rp.Condition}
		if rp.Delay != nil {
			spec.RestartPolicy.Delay = duration(*rp.Delay)
		}
		if rp.Window != nil {
			spec.RestartPolicy.Window = duration(*rp.Window)
		}
		if rp.MaxAttempts != nil {
			n := int64(*rp.MaxAttempts)
			spec.RestartPolicy.MaxAttempts = &n
		}
		if s.Restart != "" {
			c.is.warn("%s: key restart: ignored, deploy.restart_policy is set", where)
		}
	case s.Restart != "":
		// docker/cli convertRestartPolicy: restart is used when
		// deploy.restart_policy is unset (although docker prints it among
		// the "unsupported options").
		policy, attempts, _ := strings.Cut(s.Restart, ":")
		switch policy {
		case "no":
		case "always", "unless-stopped":
			spec.RestartPolicy = &v1alpha1.RestartPolicy{Condition: "any"}
		case "on-failure":
			n := int64(0)
			if attempts != "" {
				v, err := strconv.ParseInt(attempts, 10, 64)
				if err != nil || v < 0 {
					return fmt.Errorf("%s: restart %q: bad maximum retry count", where, s.Restart)
				}
				n = v
			}
			spec.RestartPolicy = &v1alpha1.RestartPolicy{Condition: "on-failure", MaxAttempts: &n}
		default:
			return fmt.Errorf("%s: restart %q: unknown restart policy", where, s.Restart)
		}
		c.is.warn("%s: key restart: converted to restartPolicy as docker stack deploy does (deploy.restart_policy is the swarm-mode key)", where)
	}

	spec.UpdateConfig = updateConfig(d.UpdateConfig)
	spec.RollbackConfig = updateConfig(d.RollbackConfig)
	if rc := spec.RollbackConfig; rc != nil && rc.FailureAction == "rollback" {
		c.is.unsupported("%s: deploy.rollback_config.failure_action rollback: Kargo accepts pause and continue", where)
		rc.FailureAction = ""
	}
	return nil
}

func amounts(r *types.Resource) *v1alpha1.ResourceAmounts {
	if r == nil || (r.NanoCPUs == 0 && r.MemoryBytes == 0) {
		return nil
	}
	a := &v1alpha1.ResourceAmounts{}
	if r.NanoCPUs != 0 {
		a.CPUs = strconv.FormatFloat(float64(r.NanoCPUs), 'f', -1, 32)
	}
	if r.MemoryBytes != 0 {
		a.Memory = quantity(int64(r.MemoryBytes))
	}
	return a
}

func updateConfig(u *types.UpdateConfig) *v1alpha1.UpdateConfig {
	if u == nil {
		return nil
	}
	out := &v1alpha1.UpdateConfig{FailureAction: u.FailureAction, Order: u.Order}
	if u.Parallelism != nil {
		n := int64(*u.Parallelism)
		out.Parallelism = &n
	}
	if u.Delay != 0 {
		out.Delay = duration(u.Delay)
	}
	if u.Monitor != 0 {
		out.Monitor = duration(u.Monitor)
	}
	if u.MaxFailureRatio != 0 {
		out.MaxFailureRatio = strconv.FormatFloat(float64(u.MaxFailureRatio), 'f', -1, 32)
	}
	return out
}
