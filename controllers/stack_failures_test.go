package controllers_test

import (
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dockerswarm "github.com/docker/docker/api/types/swarm"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// TestUnmanagedServiceIsLeftAlone: a service with the same name that Kargo
// does not own is neither modified nor deleted, and the Stack says Conflict.
func TestUnmanagedServiceIsLeftAlone(t *testing.T) {
	f := newFixture(t)
	name := f.namespace + "-app_web"
	replicas := uint64(1)
	created, err := docker.ServiceCreate(f.ctx, dockerswarm.ServiceSpec{
		Annotations:  dockerswarm.Annotations{Name: name, Labels: map[string]string{"team": "other"}},
		TaskTemplate: dockerswarm.TaskSpec{ContainerSpec: &dockerswarm.ContainerSpec{Image: "kargo.local/busybox:1", Command: []string{"sleep", "3600"}, StopGracePeriod: ptr.To(time.Second)}},
		Mode:         dockerswarm.ServiceMode{Replicated: &dockerswarm.ReplicatedService{Replicas: &replicas}},
	}, dockerswarm.ServiceCreateOptions{})
	f.g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = docker.ServiceRemove(f.ctx, created.ID) })
	before, _, err := docker.ServiceInspectWithRaw(f.ctx, created.ID, dockerswarm.ServiceInspectOptions{})
	f.g.Expect(err).NotTo(HaveOccurred())

	stack := f.stackWith("app", sleeper("web"), sleeper("api"))
	// The rest of the Stack is deployed: api is Ready beside the conflict.
	f.eventually(stack, func(g Gomega) {
		msg := expectCondition(g, stack, kargov1.ReadyCondition, metav1.ConditionFalse, kargov1.ConflictReason)
		g.Expect(msg).To(ContainSubstring("exists and is not managed by Kargo"))
		g.Expect(stack.Status.ReadyServices).To(Equal("1/2"))
		t.Logf("Conflict: %s", msg)
	})

	after, _, err := docker.ServiceInspectWithRaw(f.ctx, created.ID, dockerswarm.ServiceInspectOptions{})
	f.g.Expect(err).NotTo(HaveOccurred())
	f.g.Expect(after.Version).To(Equal(before.Version), "the unmanaged service was modified")
	f.g.Expect(after.Spec.Labels).NotTo(HaveKey(kargov1.OwnerLabel))
	f.g.Expect(f.swarmServiceIn("app", "api").Spec.Labels).To(HaveKeyWithValue(kargov1.OwnerLabel, f.namespace+"/app"))
}

// TestEngineRejections: what only the Swarm can refuse is reported with the
// engine's message, and nothing else of the Stack is removed.
func TestEngineRejections(t *testing.T) {
	f := newFixture(t)
	g := f.g

	portTaken := f.portTaken("web", 18283)
	noImage := sleeper("tiles")
	noImage.Spec.Image = "kargo.local/does-not-exist:1"
	healthy := sleeper("db")
	stack := f.stackWith("geo", portTaken, noImage, healthy)

	var msg string
	f.eventually(stack, func(g Gomega) {
		msg = expectCondition(g, stack, kargov1.ReadyCondition, metav1.ConditionFalse, "")
		g.Expect(msg).To(SatisfyAll(ContainSubstring("18283"), ContainSubstring("No such image")))
		g.Expect(stack.Status.ReadyServices).To(Equal("1/3"))
	})
	t.Logf("Ready=False: %s", msg)

	// Declaring an external network that does not exist: reported, and the
	// services already deployed stay.
	f.update(stack, func() {
		stack.Spec.Networks = append(stack.Spec.Networks, kargov1.Network{Name: "missing-" + f.namespace, External: true})
	})
	f.eventually(stack, func(g Gomega) {
		msg = expectCondition(g, stack, kargov1.ReadyCondition, metav1.ConditionFalse, kargov1.ApplyFailedReason)
		g.Expect(msg).To(SatisfyAll(ContainSubstring("missing-"+f.namespace), ContainSubstring("not found")))
	})
	t.Logf("Ready=False: %s", msg)
	for _, name := range []string{"db", "tiles"} {
		_, _, err := docker.ServiceInspectWithRaw(f.ctx, f.namespace+"-geo_"+name, dockerswarm.ServiceInspectOptions{})
		g.Expect(err).NotTo(HaveOccurred(), "service %s was removed", name)
	}
	g.Expect(k8sDelete(f, stack)).To(Succeed())
}

// portTaken is a service the Swarm refuses to create: a service outside
// the stack (removed when the test ends) publishes its port (ingress).
func (f *fixture) portTaken(name string, port uint32) *kargov1.Service {
	f.t.Helper()
	replicas := uint64(0)
	other, err := docker.ServiceCreate(f.ctx, dockerswarm.ServiceSpec{
		Annotations:  dockerswarm.Annotations{Name: f.namespace + "-port-holder-" + name},
		TaskTemplate: dockerswarm.TaskSpec{ContainerSpec: &dockerswarm.ContainerSpec{Image: "kargo.local/busybox:1", Command: []string{"sleep", "3600"}}},
		Mode:         dockerswarm.ServiceMode{Replicated: &dockerswarm.ReplicatedService{Replicas: &replicas}},
		EndpointSpec: &dockerswarm.EndpointSpec{Ports: []dockerswarm.PortConfig{{TargetPort: 80, PublishedPort: port, Protocol: "tcp", PublishMode: dockerswarm.PortConfigPublishModeIngress}}},
	}, dockerswarm.ServiceCreateOptions{})
	f.g.Expect(err).NotTo(HaveOccurred())
	f.t.Cleanup(func() { _ = docker.ServiceRemove(f.ctx, other.ID) })
	svc := sleeper(name)
	svc.Spec.Ports = []kargov1.Port{{Target: 8080, Published: int32(port), Protocol: "tcp", Mode: "ingress"}}
	return svc
}

// TestApplyFailureBackoff: a service the Swarm refuses is retried with
// exponential backoff (1s, doubling, capped), not at every convergence
// poll; the Stack is Stalled once it has failed for longer than
// spec.timeout, and the retries go on.
func TestApplyFailureBackoff(t *testing.T) {
	f := newFixture(t)
	stack := f.stackWith("refused", f.portTaken("web", 18284))
	f.update(stack, func() { stack.Spec.Timeout = &metav1.Duration{Duration: scaled(10 * time.Second)} })
	f.waitMessage(stack, kargov1.ApplyFailedReason, "18284")
	start, first := time.Now(), engineRequests(f, "POST /services/create")

	// The convergence poll (every 1 s, then 3 s) made some 20 attempts in
	// 30 s; the backoff makes 5 (after 1, 2, 4, 8, 16 s), a watch event
	// or two may add one.
	window := scaled(30 * time.Second)
	f.g.Consistently(func() float64 { return engineRequests(f, "POST /services/create") - first }, window, poll).
		Should(BeNumerically("<=", 8), "create attempts of a refused service in %s", window)
	attempts := engineRequests(f, "POST /services/create") - first
	f.g.Expect(attempts).To(BeNumerically(">=", 2), "the refused service was not retried")
	t.Logf("%.0f create attempts in the %s after the first failure", attempts, time.Since(start).Round(time.Second))

	f.eventually(stack, func(g Gomega) {
		msg := expectCondition(g, stack, kargov1.StalledCondition, metav1.ConditionTrue, kargov1.ApplyFailedReason)
		g.Expect(msg).To(SatisfyAll(ContainSubstring("failing for longer than spec.timeout"), ContainSubstring("18284")))
		expectCondition(g, stack, kargov1.ReadyCondition, metav1.ConditionFalse, kargov1.ApplyFailedReason)
	})
}

// socketProxy forwards a unix socket to the Docker socket. It stands in for
// an engine that goes away and comes back: stopping the shared dockerd would
// take every other test's Swarm down with it. The engine behind it is real.
type socketProxy struct {
	path, target string
	mu           sync.Mutex
	listener     net.Listener
	conns        []net.Conn
}

func (p *socketProxy) start(t *testing.T) {
	l, err := net.Listen("unix", p.path)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.listener = l
	p.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("unix", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

func (p *socketProxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.listener.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestEndpointDown: an engine that stops answering is reported on the
// Environment and its Stacks, nothing is deleted, and after it is back
// everything converges without duplicates.
func TestEndpointDown(t *testing.T) {
	f := newFixture(t)
	g := f.g
	proxy := &socketProxy{path: filepath.Join(t.TempDir(), "docker.sock"), target: strings.TrimPrefix(dockerHost, "unix://")}
	proxy.start(t)
	env := &kargov1.Environment{
		ObjectMeta: metav1.ObjectMeta{Name: "flaky", Namespace: f.namespace},
		Spec:       kargov1.EnvironmentSpec{Endpoint: kargov1.Endpoint{Host: "unix://" + proxy.path}, Interval: &metav1.Duration{Duration: 2 * time.Second}},
	}
	f.create(env)
	f.waitReady(env)
	f.env = env
	stack := f.stackWith("app", sleeper("api"))
	f.waitStackReady(stack, 1)
	before := f.swarmServiceIn("app", "api")

	proxy.stop()
	msg := f.waitCondition(env, metav1.ConditionFalse, kargov1.UnreachableReason)
	t.Logf("Environment: %s", msg)
	msg = f.waitCondition(stack, metav1.ConditionFalse, kargov1.EnvironmentNotReadyReason)
	t.Logf("Stack: %s", msg)
	_, _, err := docker.ServiceInspectWithRaw(f.ctx, before.ID, dockerswarm.ServiceInspectOptions{})
	g.Expect(err).NotTo(HaveOccurred(), "service removed while the endpoint was down")
	stream := map[string]string{"environment": f.namespace + "/flaky"}
	g.Eventually(func() float64 { return metricSum(f, "kargo_engine_event_stream_connected", stream) }, timeout, poll).Should(BeZero(), "the event stream did not notice the endpoint going away")

	proxy.start(t)
	f.waitReady(env)
	f.waitStackReady(stack, 1)
	// The event subscription reconnects (with backoff) by itself.
	g.Eventually(func() float64 { return metricSum(f, "kargo_engine_event_stream_connected", stream) }, timeout, poll).Should(Equal(1.0))
	after := f.swarmServiceIn("app", "api")
	g.Expect(after.ID).To(Equal(before.ID), "service recreated after the endpoint came back")
	list, err := docker.ServiceList(f.ctx, dockerswarm.ServiceListOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	n := 0
	for _, s := range list {
		if strings.HasPrefix(s.Spec.Name, f.namespace+"-app_") {
			n++
		}
	}
	g.Expect(n).To(Equal(1), "duplicate services after recovery")

	// Deleting the Environment first waits for its Stacks, which still need
	// its endpoint to clean up the Swarm, and says so.
	g.Expect(k8s.Delete(f.ctx, env)).To(Succeed())
	f.eventually(env, func(g Gomega) {
		g.Expect(expectCondition(g, env, kargov1.ReadyCondition, metav1.ConditionFalse, kargov1.DeletingReason)).
			To(ContainSubstring("waiting for the stacks using it to be deleted: app"))
		g.Expect(env.Finalizers).To(ContainElement(kargov1.Finalizer))
	})
	g.Expect(k8sDelete(f, stack)).To(Succeed())
	_, _, err = docker.ServiceInspectWithRaw(f.ctx, before.ID, dockerswarm.ServiceInspectOptions{})
	g.Expect(err).To(HaveOccurred(), "the stack's service survived its deletion")
	g.Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(f.ctx, client.ObjectKeyFromObject(env), env)) }, timeout, poll).Should(BeTrue())
}
