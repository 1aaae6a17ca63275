//go:build faults

package faults

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	dockerswarm "github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/volume"
	dockerclient "github.com/docker/docker/client"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/testenv"
)

// Every wait is bounded by timeout: long enough for a restarted dockerd or
// API server and a 20-service Stack on a busy 2-core machine.
const (
	timeout = 3 * time.Minute
	poll    = 250 * time.Millisecond
	// outage is how long the event stream or the endpoint stays down.
	outage = 60 * time.Second
)

// fixture is one case's namespace (f-<random>, also the Swarm stack
// namespace: testenv.Namespace), its Environment and its Stack "app".
// docker reads the Swarm directly, never through a fault.
type fixture struct {
	*testenv.Namespace
	t         *testing.T
	g         *WithT
	ctx       context.Context
	namespace string
	docker    *dockerclient.Client
	env       *kargov1.Environment
	stack     *kargov1.Stack
	// services are the names of the Stack's Services.
	services []string
	// volumes are the Stack's volumes seen before the fault.
	volumes []string
}

// newFixture creates the namespace and an Environment whose endpoint is
// host, an engine of the Swarm docker reads; its cleanup deletes the Stack
// (the manager removes its Swarm objects), the Environment, the volumes
// (Kargo never removes them) and the namespace. The interval is long: only
// events, reconnects and requeues repair what a case breaks.
func newFixture(t *testing.T, docker *dockerclient.Client, host string) *fixture {
	t.Helper()
	ns := testenv.NewNamespace(t, k8s, "f-", timeout, poll)
	f := &fixture{Namespace: ns, t: t, g: NewWithT(t), ctx: ns.Ctx, namespace: ns.Name, docker: docker}
	ns.RemoveVolumesAfterDelete(docker)
	f.env = &kargov1.Environment{
		ObjectMeta: metav1.ObjectMeta{Name: "swarm", Namespace: f.namespace},
		Spec: kargov1.EnvironmentSpec{
			Endpoint: kargov1.Endpoint{Host: host},
			Interval: &metav1.Duration{Duration: time.Hour},
		},
	}
	f.Create(f.env)
	return f
}

// deploy creates the Stack "app" of n Services (n >= 3) on network "back",
// with config "conf" and secret "creds" from a ConfigMap and a Secret:
// "db", healthy about 5 s after it starts; w01.. (half of the others, w01
// with the config, the secret and volume "data"), created at once; d01..,
// which depend on db and so are created only once db is healthy. Until then the
// Stack is in the middle of its apply.
func (f *fixture) deploy(n int) {
	f.t.Helper()
	f.Create(&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "conf", Namespace: f.namespace},
		Data:       map[string]string{"app.conf": "version 1\n"},
	})
	f.Create(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: f.namespace},
		Data:       map[string][]byte{"password": []byte("s3cret")},
	})
	f.stack = &kargov1.Stack{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: f.namespace},
		Spec: kargov1.StackSpec{
			EnvironmentRef: kargov1.EnvironmentReference{Name: f.env.Name},
			Namespace:      f.namespace,
			Networks:       []kargov1.Network{{Name: "back"}},
			Configs:        []kargov1.StackConfig{{Name: "conf", ConfigMapKeyRef: kargov1.KeySelector{Name: "conf", Key: "app.conf"}}},
			Secrets:        []kargov1.StackSecret{{Name: "creds", SecretKeyRef: kargov1.KeySelector{Name: "creds", Key: "password"}}},
		},
	}
	f.Create(f.stack)

	db := f.service("db", "sleep 5 && touch /tmp/healthy && exec sleep 3600")
	db.Spec.Healthcheck = &kargov1.Healthcheck{
		Test:     []string{"CMD", "test", "-f", "/tmp/healthy"},
		Interval: &metav1.Duration{Duration: time.Second}, Timeout: &metav1.Duration{Duration: time.Second},
		Retries: ptr.To[int64](1), StartPeriod: &metav1.Duration{Duration: 30 * time.Second},
	}
	services := []*kargov1.Service{db}
	for i := 1; i <= (n-1)/2; i++ {
		services = append(services, f.service(fmt.Sprintf("w%02d", i), "exec sleep 3600"))
	}
	w01 := &services[1].Spec
	w01.Configs = []kargov1.FileReference{{Name: "conf", Target: "/etc/app.conf"}}
	w01.Secrets = []kargov1.FileReference{{Name: "creds"}}
	w01.Mounts = []kargov1.Mount{{Type: "volume", Source: "data", Target: "/data"}}
	for i := 1; len(services) < n; i++ {
		d := f.service(fmt.Sprintf("d%02d", i), "exec sleep 3600")
		d.Spec.DependsOn = []string{"db"}
		services = append(services, d)
	}
	for _, svc := range services {
		f.Create(svc)
		f.services = append(f.services, svc.Name)
	}
}

// deployReady deploys n Services (see deploy), waits until the Stack has
// converged and records its volumes.
func (f *fixture) deployReady(n int) {
	f.t.Helper()
	f.environmentReady()
	f.deploy(n)
	f.Eventually(f.stack, func(g Gomega) {
		f.converged(g)
		f.volumes = f.volumesNow(g)
		g.Expect(f.volumes).To(HaveLen(1))
	})
}

// inTheMiddle waits until the apply of the n Services of deploy is in the
// middle, db and w01.. created, w01 running (its volume exists), d01..
// waiting for db's health, records the volumes and returns how many
// services exist.
func (f *fixture) inTheMiddle(n int) int {
	f.t.Helper()
	var created int
	f.g.Eventually(func(g Gomega) {
		created = len(f.ownedServices(g))
		g.Expect(created).To(BeNumerically(">=", 1+(n-1)/2))
		g.Expect(created).To(BeNumerically("<", n), "every service created: not in the middle of the apply")
		f.volumes = f.volumesNow(g)
		g.Expect(f.volumes).To(HaveLen(1))
	}, timeout, 50*time.Millisecond).Should(Succeed())
	return created
}

// service is a Service of the Stack running script, stopped within a second.
func (f *fixture) service(name, script string) *kargov1.Service {
	return &kargov1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.namespace},
		Spec: kargov1.ServiceSpec{
			StackRef: kargov1.LocalObjectReference{Name: "app"},
			Image:    image, Command: []string{"sh", "-c", script},
			StopGracePeriod: &metav1.Duration{Duration: time.Second},
			Networks:        []kargov1.NetworkAttachment{{Name: "back"}},
		},
	}
}

// environmentReady waits until the Environment reaches its Swarm.
func (f *fixture) environmentReady() {
	f.t.Helper()
	f.Eventually(f.env, func(g Gomega) { testenv.ExpectReady(g, f.env) })
}

// unreachableWhileDown waits until the Environment says its endpoint is
// Unreachable and the Stack waits for it, and logs both.
func (f *fixture) unreachableWhileDown() {
	f.t.Helper()
	f.Eventually(f.env, func(g Gomega) {
		g.Expect(notReady(g, f.env.Status.Conditions)).To(HavePrefix(kargov1.UnreachableReason + ": "))
	})
	f.Eventually(f.stack, func(g Gomega) {
		g.Expect(notReady(g, f.stack.Status.Conditions)).To(HavePrefix(kargov1.EnvironmentNotReadyReason + ": "))
	})
	f.t.Logf("while down: Environment %s; Stack %s", notReady(f.g, f.env.Status.Conditions), notReady(f.g, f.stack.Status.Conditions))
}

// notReady asserts that Ready is False and returns its reason and message.
func notReady(g Gomega, conds []metav1.Condition) string {
	c := meta.FindStatusCondition(conds, kargov1.ReadyCondition)
	g.Expect(c).NotTo(BeNil(), "no Ready condition yet")
	g.Expect(c.Status).To(Equal(metav1.ConditionFalse), "Ready: %s %s", c.Reason, c.Message)
	return c.Reason + ": " + c.Message
}

// converged asserts, in an eventually on the Stack, the state every case
// must reach again: the Stack Ready with all its services; on the Swarm,
// each of them once, network back once, no config or secret of the Stack
// that no service uses, and every volume seen before the fault.
func (f *fixture) converged(g Gomega) {
	testenv.ExpectReady(g, f.stack)
	n := len(f.services)
	g.Expect(f.stack.Status.ReadyServices).To(Equal(fmt.Sprintf("%d/%d", n, n)))

	owner := filters.NewArgs(filters.Arg("label", kargov1.OwnerLabel+"="+f.namespace+"/"+f.stack.Name))
	services := f.ownedServices(g)
	names := make([]string, 0, len(services))
	used := map[string]bool{}
	for _, s := range services {
		names = append(names, strings.TrimPrefix(s.Spec.Name, f.namespace+"_"))
		for _, c := range s.Spec.TaskTemplate.ContainerSpec.Configs {
			used[c.ConfigID] = true
		}
		for _, s := range s.Spec.TaskTemplate.ContainerSpec.Secrets {
			used[s.SecretID] = true
		}
	}
	g.Expect(names).To(ConsistOf(f.services), "services on the Swarm")

	networks, err := f.docker.NetworkList(f.ctx, network.ListOptions{Filters: owner})
	g.Expect(err).NotTo(HaveOccurred())
	var networkNames []string
	for _, n := range networks {
		networkNames = append(networkNames, n.Labels[kargov1.LogicalNameLabel])
	}
	g.Expect(networkNames).To(ConsistOf("back"), "networks on the Swarm")

	configs, err := f.docker.ConfigList(f.ctx, dockerswarm.ConfigListOptions{Filters: owner})
	g.Expect(err).NotTo(HaveOccurred())
	secrets, err := f.docker.SecretList(f.ctx, dockerswarm.SecretListOptions{Filters: owner})
	g.Expect(err).NotTo(HaveOccurred())
	var orphans []string
	for _, c := range configs {
		if !used[c.ID] {
			orphans = append(orphans, "config "+c.Spec.Name)
		}
	}
	for _, s := range secrets {
		if !used[s.ID] {
			orphans = append(orphans, "secret "+s.Spec.Name)
		}
	}
	g.Expect(orphans).To(BeEmpty(), "configs and secrets no service uses")
	g.Expect(len(configs)+len(secrets)).To(Equal(len(used)), "configs and secrets the services use")

	g.Expect(f.volumesNow(g)).To(ContainElements(f.volumes), "volumes")
}

// ownedServices lists the Stack's services on the Swarm.
func (f *fixture) ownedServices(g Gomega) []dockerswarm.Service {
	services, err := f.docker.ServiceList(f.ctx, dockerswarm.ServiceListOptions{
		Filters: filters.NewArgs(filters.Arg("label", kargov1.OwnerLabel+"="+f.namespace+"/app")),
	})
	g.Expect(err).NotTo(HaveOccurred())
	return services
}

// swarmService inspects one of the Stack's services.
func (f *fixture) swarmService(g Gomega, name string) dockerswarm.Service {
	svc, _, err := f.docker.ServiceInspectWithRaw(f.ctx, f.namespace+"_"+name, dockerswarm.ServiceInspectOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	return svc
}

// volumesNow lists the volumes of the Stack's namespace.
func (f *fixture) volumesNow(g Gomega) []string {
	list, err := f.docker.VolumeList(f.ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("name", f.namespace+"_"))})
	g.Expect(err).NotTo(HaveOccurred())
	var names []string
	for _, v := range list.Volumes {
		if strings.HasPrefix(v.Name, f.namespace+"_") {
			names = append(names, v.Name)
		}
	}
	slices.Sort(names)
	return names
}

// recovered logs the time since from in the suite's one format, which
// the README's "Failure behaviour" table quotes.
func (f *fixture) recovered(from time.Time, what string) {
	f.t.Logf("RECOVERY %s %.1fs: %s", f.t.Name(), time.Since(from).Seconds(), what)
}

// removeByHand removes one of the Stack's services directly on the Swarm,
// as a person would with docker service rm.
func (f *fixture) removeByHand(name string) {
	f.t.Helper()
	f.g.Expect(f.docker.ServiceRemove(f.ctx, f.namespace+"_"+name)).To(Succeed())
}

// envValue asserts that the Stack's service name runs with VERSION=version.
func (f *fixture) envValue(g Gomega, name, version string) {
	g.Expect(f.swarmService(g, name).Spec.TaskTemplate.ContainerSpec.Env).To(ContainElement("VERSION=" + version))
}

// setVersion sets VERSION on the Service name (a change Kargo must apply).
func (f *fixture) setVersion(name, version string) {
	f.t.Helper()
	svc := &kargov1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.namespace}}
	f.Update(svc, func() { svc.Spec.Env = []kargov1.EnvVar{{Name: "VERSION", Value: version}} })
}
