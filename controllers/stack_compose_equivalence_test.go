package controllers_test

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/docker/docker/api/types/network"
	dockerswarm "github.com/docker/docker/api/types/swarm"
	. "github.com/onsi/gomega"
	utilrand "k8s.io/apimachinery/pkg/util/rand"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/compose"
	"github.com/kargo-io/kargo/internal/desired"
	"github.com/kargo-io/kargo/internal/swarm"
)

// dockerCLI is the docker CLI whose `docker stack deploy` is the reference
// (28.x, built on github.com/docker/cli/cli/compose/convert).
const dockerCLI = "/usr/local/bin/docker"

// The labels each tool adds for itself, removed before comparing; every
// other label must be equal.
var (
	// docker stack deploy records the image as written in the compose file
	// (for --resolve-image changed) on each service.
	dockerOwnLabels = map[string][]string{
		"service": {"com.docker.stack.image"},
	}
	// Kargo marks what it owns and the hash of the desired spec;
	// networks, configs and secrets also carry their logical name.
	kargoOwnLabels = map[string][]string{
		"service": {kargov1.OwnerLabel, kargov1.ManagerLabel, kargov1.SpecHashLabel},
		"network": {kargov1.OwnerLabel, kargov1.ManagerLabel, kargov1.LogicalNameLabel},
		"config":  {kargov1.OwnerLabel, kargov1.ManagerLabel, kargov1.LogicalNameLabel},
		"secret":  {kargov1.OwnerLabel, kargov1.ManagerLabel, kargov1.LogicalNameLabel},
	}
)

// The other differences that are by design, each mapped before comparing
// rather than ignored:
//   - names: everything docker names <dockerNS>_x Kargo names <kargoNS>_x,
//     and the com.docker.stack.namespace label carries each namespace; both
//     become <ns>_x and <ns>;
//   - Kargo names a config or secret version <ns>_<name>-<hash of the
//     data> (configs and secrets are immutable); the test checks the hash
//     against the data, then compares the name without it;
//   - IDs (network targets, config and secret IDs) are the Swarm's: a
//     network target becomes the network's name, a config or secret ID is
//     checked to be the object of that name and dropped;
//   - what Swarm allocates for a network (IPAM subnets and gateways, the
//     overlay VXLAN ID option) is not part of what either tool asked for.
//
// JSON nulls, empty strings, lists and objects are the same as absent to
// the engine, so both sides drop them before comparing.

// TestComposeEquivalence deploys the compose files of
// testdata/equivalence with `docker stack deploy` and with Kargo (kargo
// convert compose, apply, reconcile), inspects what each made on the
// Swarm, and fails on every field that differs. The images do not exist:
// the specs are compared, no task has to run. The two deployments run one
// after the other because ingress ports are unique on a Swarm.
func TestComposeEquivalence(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("testdata", "equivalence"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yml"))
	if err != nil || len(files) < 12 {
		t.Fatalf("compose files in %s: %v (%d, want one per feature group)", dir, err, len(files))
	}
	sort.Strings(files) // 12-merge-a.yml before 12-merge-b.yml, as -c a -c b

	suffix := utilrand.String(6)
	dockerNS, kargoNS := "eqdocker-"+suffix, "eqkargo-"+suffix
	ctx := context.Background()
	g := NewWithT(t)

	// The variables: the committed .env and the run's suffix, given to
	// kargo convert as env files and to docker in its environment.
	suffixEnv := filepath.Join(t.TempDir(), "suffix.env")
	g.Expect(os.WriteFile(suffixEnv, []byte("EQ_SUFFIX="+suffix+"\n"), 0o600)).To(Succeed())
	envFiles := []string{filepath.Join(dir, ".env"), suffixEnv}
	vars, err := dotenv.Read(envFiles...)
	g.Expect(err).NotTo(HaveOccurred())

	// The external network of 08-networks.yml, removed after the Stack
	// (cleanups run last registered first, and the fixture's comes next).
	external := "eq-ext-" + suffix
	_, err = docker.NetworkCreate(ctx, external, network.CreateOptions{Driver: "overlay", Scope: "swarm", Attachable: true})
	g.Expect(err).NotTo(HaveOccurred(), "create the external network")
	t.Cleanup(func() {
		g := NewWithT(t)
		g.Eventually(func() error {
			if err := docker.NetworkRemove(ctx, external); err != nil && !swarm.IsNotFound(err) {
				return err
			}
			return nil
		}, timeout, poll).Should(Succeed(), "remove network %s", external)
		removeVolumes(t, dockerNS+"_", kargoNS+"_")
	})
	f := newFixture(t)
	// The files bind host paths, give the local volume driver options and
	// join an external network: what the Environment's policy must allow.
	f.Update(f.env, func() {
		f.env.Spec.SharedNetworks = []string{external}
		f.env.Spec.Policy = &kargov1.WorkloadPolicy{
			AllowedHostPaths:     []string{"/var/log", "/etc/hostname"},
			AllowedVolumeDrivers: []kargov1.VolumeDriverRule{{Name: "local", Options: []string{"type", "device", "o"}}},
		}
	})

	// docker stack deploy.
	t.Cleanup(func() { dockerStackRm(t, dockerNS) })
	start := time.Now()
	args := []string{"stack", "deploy", "--resolve-image", "never", "--detach=true"}
	for _, file := range files {
		args = append(args, "-c", file)
	}
	cmd := exec.CommandContext(ctx, dockerCLI, append(args, dockerNS)...)
	cmd.Dir = dir
	// Only the variables of the env files (and what the CLI needs): a
	// variable of the test's own environment must not change the result.
	cmd.Env = []string{"DOCKER_HOST=" + dockerHost, "DOCKER_CONFIG=" + t.TempDir()}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		cmd.Env = append(cmd.Env, k+"="+vars[k])
	}
	out, err := cmd.CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), "docker stack deploy:\n%s", out)
	t.Logf("docker stack deploy:\n%s", out)
	want := snapshot(t, dockerNS, nil, nil)
	dockerStackRm(t, dockerNS)

	// Kargo: convert, apply, reconcile.
	res, err := compose.Convert(compose.Options{
		Files: files, EnvFiles: envFiles, Stack: kargoNS, Environment: f.env.Name, Namespace: f.namespace,
	})
	g.Expect(err).NotTo(HaveOccurred(), "kargo convert compose")
	for _, w := range res.Warnings {
		t.Logf("kargo convert: warning: %s", w)
	}
	for _, cm := range res.ConfigMaps {
		f.Create(cm)
	}
	secretData := map[string][]byte{}
	for _, s := range res.Secrets {
		maps.Copy(secretData, s.Data)
		f.Create(s)
	}
	stack := res.Stack
	f.Create(stack)
	for _, svc := range res.Services {
		f.Create(svc)
	}
	// Tasks cannot run (no image): wait until the Stack has applied the
	// desired spec of every Service, as its status and the live labels say.
	f.Eventually(stack, func(g Gomega) {
		g.Expect(stack.Status.Services).To(HaveLen(len(res.Services)))
		for _, st := range stack.Status.Services {
			g.Expect(st.ID).NotTo(BeEmpty(), "service %s: %s", st.Name, st.Message)
			g.Expect(st.SpecHash).NotTo(BeEmpty(), "service %s: %s", st.Name, st.Message)
			live, _, err := docker.ServiceInspectWithRaw(ctx, st.SwarmName, dockerswarm.ServiceInspectOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(live.Spec.Labels).To(HaveKeyWithValue(kargov1.SpecHashLabel, st.SpecHash), "service %s not at its desired spec", st.Name)
		}
	})
	key, _, err := desired.NamingKey(ctx, k8s, stack)
	g.Expect(err).NotTo(HaveOccurred())
	got := snapshot(t, kargoNS, secretData, key)
	t.Logf("deployed and inspected both in %s", time.Since(start).Round(time.Millisecond))

	// Compare, kind by kind, object by object, field by field.
	fields, differences := 0, 0
	for _, kind := range []string{"service", "network", "config", "secret"} {
		names := map[string]bool{}
		for name := range want[kind] {
			names[name] = true
		}
		for name := range got[kind] {
			names[name] = true
		}
		for _, name := range slices.Sorted(maps.Keys(names)) {
			w, inDocker := want[kind][name]
			k, inKargo := got[kind][name]
			switch {
			case !inKargo:
				t.Errorf("%s %s: made by docker stack deploy, not by Kargo", kind, name)
				differences++
				continue
			case !inDocker:
				t.Errorf("%s %s: made by Kargo, not by docker stack deploy", kind, name)
				differences++
				continue
			}
			fields += countLeaves(w)
			for _, d := range diffFields("", w, k) {
				t.Errorf("%s %s: %s", kind, name, d)
				differences++
			}
		}
	}
	t.Logf("compared %d services, %d networks, %d configs, %d secrets (%d fields): %d differences",
		len(want["service"]), len(want["network"]), len(want["config"]), len(want["secret"]), fields, differences)
	g.Expect(len(want["service"])).To(BeNumerically(">=", 12), "services deployed by docker")

	// What Kargo made is stable: a reconcile finds every live service equal
	// to its desired spec and writes nothing (no update loop).
	engine := f.engine()
	writes := engine.Writes()
	f.requestReconcile(stack)
	g.Expect(engine.Writes()-writes).To(BeZero(), "write calls during a no-op reconcile")

	g.Expect(k8sDelete(f, stack)).To(Succeed())
}
