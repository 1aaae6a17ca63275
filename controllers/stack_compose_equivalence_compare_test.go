package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	dockerswarm "github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/volume"
	. "github.com/onsi/gomega"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/swarm"
)

// How TestComposeEquivalence inspects and compares the two deployments.

// snapshot inspects the services, networks, configs and secrets of a
// stack namespace, by kind and stack-scoped name, as generic JSON with the
// tool's own labels removed and names mapped (see the comment above the
// test). secretData holds the data of Kargo's secrets by logical name
// (the Swarm never returns it) and key the Stack's naming key; both nil
// for docker's namespace.
func snapshot(t *testing.T, ns string, secretData map[string][]byte, key []byte) map[string]map[string]any {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	kargo := secretData != nil
	own := dockerOwnLabels
	if kargo {
		own = kargoOwnLabels
	}
	byLabel := filters.NewArgs(filters.Arg("label", kargov1.StackNamespaceLabel+"="+ns))
	out := map[string]map[string]any{"service": {}, "network": {}, "config": {}, "secret": {}}
	// renamed maps Kargo's versioned config and secret names to the
	// scoped name docker gives them.
	renamed := map[string]string{}
	descope := func(name string) string { return strings.TrimPrefix(name, ns+"_") }

	// Networks: what the creator asked for, by name; every network's ID
	// (the external one too) maps to its name for the service targets.
	all, err := docker.NetworkList(ctx, network.ListOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	networkNames := map[string]string{}
	for _, n := range all {
		networkNames[n.ID] = n.Name
	}
	nets, err := docker.NetworkList(ctx, network.ListOptions{Filters: byLabel})
	g.Expect(err).NotTo(HaveOccurred())
	for _, n := range nets {
		n, err := docker.NetworkInspect(ctx, n.ID, network.InspectOptions{Scope: "swarm"})
		g.Expect(err).NotTo(HaveOccurred())
		opts := maps.Clone(n.Options)
		delete(opts, "com.docker.network.driver.overlay.vxlanid_list") // allocated by Swarm
		spec := map[string]any{
			"Driver": n.Driver, "Scope": n.Scope, "Internal": n.Internal, "Attachable": n.Attachable,
			"Ingress": n.Ingress, "EnableIPv4": n.EnableIPv4, "EnableIPv6": n.EnableIPv6,
			"IPAM":    map[string]any{"Driver": n.IPAM.Driver, "Options": n.IPAM.Options},
			"Options": opts, "Labels": n.Labels,
		}
		out["network"][descope(n.Name)] = normalizeSpec(spec, ns, own["network"])
	}

	configs, err := docker.ConfigList(ctx, dockerswarm.ConfigListOptions{Filters: byLabel})
	g.Expect(err).NotTo(HaveOccurred())
	for _, c := range configs {
		name := c.Spec.Name
		if kargo {
			logical := c.Spec.Labels[kargov1.LogicalNameLabel]
			g.Expect(name).To(Equal(swarm.VersionedName(key, ns, logical, c.Spec.Data)), "config %s: name and data", name)
			name = swarm.ScopedName(ns, logical)
			renamed[c.Spec.Name] = name
		}
		spec := c.Spec
		spec.Name = name
		out["config"][descope(name)] = normalizeSpec(spec, ns, own["config"])
	}
	secrets, err := docker.SecretList(ctx, dockerswarm.SecretListOptions{Filters: byLabel})
	g.Expect(err).NotTo(HaveOccurred())
	for _, s := range secrets {
		name := s.Spec.Name
		if kargo {
			logical := s.Spec.Labels[kargov1.LogicalNameLabel]
			g.Expect(secretData).To(HaveKey(logical), "secret %s: no data converted", name)
			g.Expect(name).To(Equal(swarm.VersionedName(key, ns, logical, secretData[logical])), "secret %s: name and data", name)
			name = swarm.ScopedName(ns, logical)
			renamed[s.Spec.Name] = name
		}
		spec := s.Spec
		spec.Name = name
		out["secret"][descope(name)] = normalizeSpec(spec, ns, own["secret"])
	}

	services, err := docker.ServiceList(ctx, dockerswarm.ServiceListOptions{Filters: byLabel})
	g.Expect(err).NotTo(HaveOccurred())
	for _, svc := range services {
		spec := svc.Spec
		cs := spec.TaskTemplate.ContainerSpec
		g.Expect(cs).NotTo(BeNil(), "service %s has no container spec", spec.Name)
		for i, n := range spec.TaskTemplate.Networks {
			g.Expect(networkNames).To(HaveKey(n.Target), "service %s: network %s", spec.Name, n.Target)
			spec.TaskTemplate.Networks[i].Target = networkNames[n.Target]
		}
		for _, c := range cs.Configs {
			live, _, err := docker.ConfigInspectWithRaw(ctx, c.ConfigID)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(live.Spec.Name).To(Equal(c.ConfigName), "service %s: config ID %s", spec.Name, c.ConfigID)
			c.ConfigID = ""
			c.ConfigName = orDefault(renamed[c.ConfigName], c.ConfigName)
		}
		for _, s := range cs.Secrets {
			live, _, err := docker.SecretInspectWithRaw(ctx, s.SecretID)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(live.Spec.Name).To(Equal(s.SecretName), "service %s: secret ID %s", spec.Name, s.SecretID)
			s.SecretID = ""
			s.SecretName = orDefault(renamed[s.SecretName], s.SecretName)
		}
		out["service"][descope(spec.Name)] = normalizeSpec(spec, ns, own["service"])
	}
	return out
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// normalizeSpec turns v into generic JSON without the labels in own (at
// the top level: the object's own labels), with the namespace mapped to
// <ns> in every string, and without empty values.
func normalizeSpec(v any, ns string, own []string) any {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		panic(err)
	}
	if labels, ok := m["Labels"].(map[string]any); ok {
		for _, l := range own {
			delete(labels, l)
		}
	}
	out := mapNamespace(m, ns)
	swarm.PruneEmpty(out)
	return out
}

func mapNamespace(v any, ns string) any {
	switch t := v.(type) {
	case string:
		if t == ns {
			return "<ns>"
		}
		if rest, ok := strings.CutPrefix(t, ns+"_"); ok {
			return "<ns>_" + rest
		}
		return t
	case []any:
		for i := range t {
			t[i] = mapNamespace(t[i], ns)
		}
	case map[string]any:
		for k, e := range t {
			t[k] = mapNamespace(e, ns)
		}
	}
	return v
}

// diffFields lists every leaf where docker's value (a) and Kargo's (b)
// differ, as "path: docker X, kargo Y", sorted.
func diffFields(path string, a, b any) []string {
	var out []string
	am, aMap := a.(map[string]any)
	bm, bMap := b.(map[string]any)
	al, aList := a.([]any)
	bl, bList := b.([]any)
	switch {
	case aMap && bMap:
		for _, k := range slices.Sorted(maps.Keys(mergeKeys(am, bm))) {
			out = append(out, diffFields(join(path, k), am[k], bm[k])...)
		}
	case aList && bList:
		for i := range max(len(al), len(bl)) {
			var x, y any
			if i < len(al) {
				x = al[i]
			}
			if i < len(bl) {
				y = bl[i]
			}
			out = append(out, diffFields(fmt.Sprintf("%s[%d]", path, i), x, y)...)
		}
	case !reflect.DeepEqual(a, b):
		out = append(out, fmt.Sprintf("%s: docker %s, kargo %s", path, show(a), show(b)))
	}
	return out
}

func mergeKeys(a, b map[string]any) map[string]bool {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func show(v any) string {
	if v == nil {
		return "(absent)"
	}
	data, _ := json.Marshal(v)
	return string(data)
}

// countLeaves counts the scalar fields of v.
func countLeaves(v any) int {
	switch t := v.(type) {
	case map[string]any:
		n := 0
		for _, e := range t {
			n += countLeaves(e)
		}
		return n
	case []any:
		n := 0
		for _, e := range t {
			n += countLeaves(e)
		}
		return n
	}
	return 1
}

// dockerStackRm removes a docker stack and waits until none of its
// services, networks, configs and secrets is left.
func dockerStackRm(t *testing.T, ns string) {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	cmd := exec.CommandContext(ctx, dockerCLI, "stack", "rm", ns)
	cmd.Env = []string{"DOCKER_HOST=" + dockerHost, "DOCKER_CONFIG=" + t.TempDir()}
	// A stack already removed is "Nothing found in stack" (the cleanup
	// after the test's own removal).
	if out, err := cmd.CombinedOutput(); err != nil && !strings.Contains(string(out), "Nothing found") {
		t.Errorf("docker stack rm %s: %v: %s", ns, err, out)
	}
	byLabel := filters.NewArgs(filters.Arg("label", kargov1.StackNamespaceLabel+"="+ns))
	g.Eventually(func(g Gomega) {
		services, err := docker.ServiceList(ctx, dockerswarm.ServiceListOptions{Filters: byLabel})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(services).To(BeEmpty(), "services of %s", ns)
		nets, err := docker.NetworkList(ctx, network.ListOptions{Filters: byLabel})
		g.Expect(err).NotTo(HaveOccurred())
		for _, n := range nets {
			// A network whose tasks were still detaching when docker
			// tried is removed here.
			_ = docker.NetworkRemove(ctx, n.ID)
		}
		g.Expect(nets).To(BeEmpty(), "networks of %s", ns)
		configs, err := docker.ConfigList(ctx, dockerswarm.ConfigListOptions{Filters: byLabel})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(configs).To(BeEmpty(), "configs of %s", ns)
		secrets, err := docker.SecretList(ctx, dockerswarm.SecretListOptions{Filters: byLabel})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(secrets).To(BeEmpty(), "secrets of %s", ns)
	}, timeout, poll).Should(Succeed())
}

// removeVolumes removes the volumes whose names start with one of the
// prefixes (tasks that ran would have made them).
func removeVolumes(t *testing.T, prefixes ...string) {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	g.Eventually(func(g Gomega) {
		vols, err := docker.VolumeList(ctx, volume.ListOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		for _, v := range vols.Volumes {
			for _, p := range prefixes {
				if strings.HasPrefix(v.Name, p) {
					g.Expect(docker.VolumeRemove(ctx, v.Name, false)).To(Succeed())
				}
			}
		}
	}, timeout, poll).Should(Succeed())
}
