// Package policy checks what the Services of a Stack would do on the
// Swarm's nodes against their Environment's spec.policy and
// spec.sharedNetworks: host paths, volume drivers and their options,
// external networks, published ports, images, global mode and root.
//
// The Stack reconciler calls Check before its first write to the Swarm,
// kargo diff and kargo render before they show what would be deployed: one
// function, so the three agree.
package policy

import (
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/distribution/reference"

	"github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/desired"
)

// Violation is one field of one Service that the policy does not allow.
type Violation struct {
	// Service is the Service's name.
	Service string
	// Field is the path of the field in the Service's spec, with the value
	// quoted: mounts[0].source "/".
	Field string
	// Reason says what is not allowed, and which part of the policy would
	// allow it.
	Reason string
}

func (v Violation) String() string {
	return fmt.Sprintf("service %s: %s: %s", v.Service, v.Field, v.Reason)
}

// Error is the violations of a Stack's Services, all of them.
type Error struct{ Violations []Violation }

func (e *Error) Error() string { return strings.Join(e.Lines(), "; ") }

// Lines are the violations, one line each.
func (e *Error) Lines() []string {
	lines := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		lines[i] = v.String()
	}
	return lines
}

// Check checks the Services a Stack deploys against the policy and shared
// networks of its Environment, and returns every violation (nil when they
// are allowed), Service by Service in the order given, each in the order of
// its fields. The Environment's defaults are not applied first: they set
// none of the fields checked. A network a Service attaches to that the
// Stack does not declare is left to the conversion, which reports it.
func Check(env *v1alpha1.EnvironmentSpec, stack *v1alpha1.Stack, services []v1alpha1.Service) error {
	c := checker{env: env, policy: env.Policy, namespace: desired.Namespace(stack), networks: stack.Spec.Networks}
	if c.policy == nil {
		c.policy = &v1alpha1.WorkloadPolicy{}
	}
	for i := range services {
		c.service(&services[i])
	}
	if len(c.violations) == 0 {
		return nil
	}
	return &Error{Violations: c.violations}
}

type checker struct {
	env        *v1alpha1.EnvironmentSpec
	policy     *v1alpha1.WorkloadPolicy
	namespace  string
	networks   []v1alpha1.Network
	violations []Violation
}

func (c *checker) deny(svc *v1alpha1.Service, field, reason string, args ...any) {
	c.violations = append(c.violations, Violation{Service: svc.Name, Field: field, Reason: fmt.Sprintf(reason, args...)})
}

func (c *checker) service(svc *v1alpha1.Service) {
	s := &svc.Spec
	if len(c.policy.AllowedImages) > 0 {
		if ref, ok := normalizedImage(s.Image); !ok || !matchAny(c.policy.AllowedImages, ref) {
			c.deny(svc, fmt.Sprintf("image %q", s.Image), "image %s not allowed by the Environment's policy (spec.policy.allowedImages: %s)", ref, strings.Join(c.policy.AllowedImages, ", "))
		}
	}
	if s.Mode == "global" && c.policy.AllowGlobalMode != nil && !*c.policy.AllowGlobalMode {
		c.deny(svc, `mode "global"`, "global mode not allowed by the Environment's policy (spec.policy.allowGlobalMode: false)")
	}
	if c.policy.RunAsNonRoot && isRoot(s.User) {
		c.deny(svc, fmt.Sprintf("user %q", s.User), "must be a user other than root (uid 0), as the Environment's policy requires (spec.policy.runAsNonRoot: true)")
	}
	for i, p := range s.Ports {
		if p.Published != 0 && len(c.policy.PublishedPortRanges) > 0 && !inRanges(c.policy.PublishedPortRanges, p.Published) {
			c.deny(svc, fmt.Sprintf("ports[%d].published %d", i, p.Published), "port not allowed by the Environment's policy (spec.policy.publishedPortRanges: %s)", ranges(c.policy.PublishedPortRanges))
		}
	}
	for i, n := range s.Networks {
		c.network(svc, i, n.Name)
	}
	for i, m := range s.Mounts {
		c.mount(svc, i, m)
	}
}

// network checks an attachment to an external network of the Stack by
// its Swarm name.
func (c *checker) network(svc *v1alpha1.Service, i int, logical string) {
	j := slices.IndexFunc(c.networks, func(n v1alpha1.Network) bool { return n.Name == logical })
	if j < 0 || !c.networks[j].External {
		return // the Stack's own network, or one it does not declare
	}
	name := desired.NetworkName(c.namespace, c.networks[j])
	if slices.Contains(c.env.SharedNetworks, name) || matchAny(c.policy.AllowedExternalNetworks, name) {
		return
	}
	c.deny(svc, fmt.Sprintf("networks[%d] %q", i, logical), "external network %q not allowed by the Environment's policy (spec.sharedNetworks: %s; spec.policy.allowedExternalNetworks: %s)",
		name, list(c.env.SharedNetworks), list(c.policy.AllowedExternalNetworks))
}

func (c *checker) mount(svc *v1alpha1.Service, i int, m v1alpha1.Mount) {
	field := fmt.Sprintf("mounts[%d]", i)
	switch m.Type {
	case "bind":
		c.hostPath(svc, fmt.Sprintf("%s.source %q", field, m.Source), m.Source)
	case "", "volume":
		if m.VolumeOptions == nil {
			return
		}
		driver := orLocal(m.VolumeOptions.Driver)
		rule, known := c.volumeDriver(driver)
		if !known {
			c.deny(svc, fmt.Sprintf("%s.volumeOptions.driver %q", field, m.VolumeOptions.Driver), "volume driver not allowed by the Environment's policy (spec.policy.allowedVolumeDrivers: %s)", c.drivers())
			return
		}
		for _, key := range slices.Sorted(maps.Keys(m.VolumeOptions.DriverOpts)) {
			if !slices.Contains(rule.Options, key) && !slices.Contains(rule.Options, "*") {
				c.deny(svc, fmt.Sprintf("%s.volumeOptions.driverOpts.%s", field, key), "option of volume driver %s not allowed by the Environment's policy (spec.policy.allowedVolumeDrivers: %s)", driver, c.drivers())
			}
		}
		if driver == "local" {
			if device, ok := mountedHostPath(m.VolumeOptions.DriverOpts); ok {
				c.hostPath(svc, fmt.Sprintf("%s.volumeOptions.driverOpts.device %q", field, device), device)
			}
		}
	}
}

// hostPath checks a host path against allowedHostPaths, on path
// boundaries, once cleaned.
func (c *checker) hostPath(svc *v1alpha1.Service, field, source string) {
	if hostPathAllowed(c.policy.AllowedHostPaths, source) {
		return
	}
	c.deny(svc, field, "host path not allowed by the Environment's policy (spec.policy.allowedHostPaths: %s)", list(c.policy.AllowedHostPaths))
}

func hostPathAllowed(allowed []string, source string) bool {
	p := path.Clean(source)
	for _, prefix := range allowed {
		prefix = path.Clean(prefix)
		if prefix == "/" || p == prefix || strings.HasPrefix(p, prefix+"/") {
			return true
		}
	}
	return false
}

// mountedHostPath is the host path a local volume's driver options mount:
// the device of a bind (o=bind or rbind), or a device that is a path (a
// directory or a block device). tmpfs and network filesystems (device
// tmpfs, :/export) are not host paths.
func mountedHostPath(opts map[string]string) (string, bool) {
	device := opts["device"]
	bind := slices.ContainsFunc(strings.Split(opts["o"], ","), func(o string) bool {
		o = strings.TrimSpace(o)
		return o == "bind" || o == "rbind"
	})
	if strings.HasPrefix(device, "/") || (bind && device != "") {
		return device, true
	}
	return "", false
}

// volumeDriver is the rule of a driver: the local driver without options
// is always allowed, an entry of allowedVolumeDrivers adds to it.
func (c *checker) volumeDriver(driver string) (v1alpha1.VolumeDriverRule, bool) {
	for _, r := range c.policy.AllowedVolumeDrivers {
		if orLocal(r.Name) == driver {
			return r, true
		}
	}
	return v1alpha1.VolumeDriverRule{Name: "local"}, driver == "local"
}

// drivers describes what allowedVolumeDrivers allows, for messages.
func (c *checker) drivers() string {
	if len(c.policy.AllowedVolumeDrivers) == 0 {
		return "none, only local without options"
	}
	var out []string
	for _, r := range c.policy.AllowedVolumeDrivers {
		if len(r.Options) == 0 {
			out = append(out, r.Name)
			continue
		}
		out = append(out, r.Name+" with options "+strings.Join(r.Options, ", "))
	}
	return strings.Join(out, "; ")
}

func orLocal(driver string) string {
	if driver == "" {
		return "local"
	}
	return driver
}

// isRoot tells whether a user runs as root: unset (the image's user, root
// unless the image says otherwise), root, or uid 0, with or without a
// group.
func isRoot(user string) bool {
	name, _, _ := strings.Cut(user, ":")
	if name == "" || name == "root" {
		return true
	}
	uid, err := strconv.ParseUint(name, 10, 32)
	return err == nil && uid == 0
}

// normalizedImage is the full reference of an image: registry and
// repository, tag (latest when neither tag nor digest is given) or digest.
func normalizedImage(image string) (string, bool) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return image, false
	}
	return reference.TagNameOnly(named).String(), true
}

func inRanges(rs []v1alpha1.PortRange, port int32) bool {
	return slices.ContainsFunc(rs, func(r v1alpha1.PortRange) bool { return port >= r.Min && port <= r.Max })
}

func ranges(rs []v1alpha1.PortRange) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = strconv.Itoa(int(r.Min))
		if r.Max != r.Min {
			out[i] += "-" + strconv.Itoa(int(r.Max))
		}
	}
	return strings.Join(out, ", ")
}

// matchAny tells whether s matches one of the patterns, where * matches
// any characters and the rest is literal.
func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		quoted := strings.ReplaceAll(regexp.QuoteMeta(p), `\*`, `.*`)
		if regexp.MustCompile("^" + quoted + "$").MatchString(s) {
			return true
		}
	}
	return false
}

func list(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}
