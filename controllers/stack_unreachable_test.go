package controllers_test

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	dockerswarm "github.com/docker/docker/api/types/swarm"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/controllers"
	"github.com/kargo-io/kargo/internal/testenv"
)

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
	closeAll(p.conns)
	p.conns = nil
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}

// TestEndpointDown: an engine that stops answering is reported on the
// Environment and its Stacks, nothing is deleted, and after it is back
// everything converges without duplicates.
func TestEndpointDown(t *testing.T) {
	f := newFixture(t)
	g := f.g
	proxy, env := f.proxiedEnvironment()
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
	f.Eventually(env, func(g Gomega) {
		g.Expect(testenv.ExpectCondition(g, env, kargov1.ReadyCondition, metav1.ConditionFalse, kargov1.DeletingReason)).
			To(ContainSubstring("waiting for the stacks using it to be deleted: app"))
		g.Expect(env.Finalizers).To(ContainElement(kargov1.Finalizer))
	})
	g.Expect(k8sDelete(f, stack)).To(Succeed())
	_, _, err = docker.ServiceInspectWithRaw(f.ctx, before.ID, dockerswarm.ServiceInspectOptions{})
	g.Expect(err).To(HaveOccurred(), "the stack's service survived its deletion")
	g.Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(f.ctx, client.ObjectKeyFromObject(env), env)) }, timeout, poll).Should(BeTrue())
}

// proxiedEnvironment makes the fixture's Environment one ("flaky", resync
// every 2 s) that reaches the Swarm through a socketProxy, and waits until
// it is Ready.
func (f *fixture) proxiedEnvironment() (*socketProxy, *kargov1.Environment) {
	f.t.Helper()
	proxy := &socketProxy{path: filepath.Join(f.t.TempDir(), "docker.sock"), target: strings.TrimPrefix(dockerHost, "unix://")}
	proxy.start(f.t)
	env := &kargov1.Environment{
		ObjectMeta: metav1.ObjectMeta{Name: "flaky", Namespace: f.namespace},
		Spec:       kargov1.EnvironmentSpec{Endpoint: kargov1.Endpoint{Host: "unix://" + proxy.path}, Interval: &metav1.Duration{Duration: 2 * time.Second}},
	}
	f.Create(env)
	f.waitReady(env)
	f.env = env
	return proxy, env
}

// TestDeletionWhileUnreachable: a Stack deleted while its Swarm does not
// answer keeps its finalizer for spec.timeout, then lets go with a Warning
// event naming what it left; its Environment records the owner and removes
// those objects once the endpoint answers again. With the deletion policy
// orphan a Stack lets go at once and leaves everything.
func TestDeletionWhileUnreachable(t *testing.T) {
	f := newFixture(t)
	g := f.g
	proxy, env := f.proxiedEnvironment()
	stack := f.stackWith("app", sleeper("api"))
	deletionTimeout := scaled(5 * time.Second)
	f.Update(stack, func() { stack.Spec.Timeout = &metav1.Duration{Duration: deletionTimeout} })
	kept := f.stackWith("kept", sleeper("db"))
	f.waitStackReady(stack, 1)
	f.waitStackReady(kept, 1)

	// Deletion policy orphan: gone at once, everything left, and said so.
	f.Update(kept, func() {
		kept.Annotations = map[string]string{kargov1.DeletionPolicyAnnotation: kargov1.DeletionPolicyOrphan}
	})
	g.Expect(k8sDelete(f, kept)).To(Succeed())
	keptOwner := f.namespace + "/kept"
	g.Expect(ownedOnSwarm(f, keptOwner)).To(ConsistOf("service "+f.namespace+"-kept_db", "network "+f.namespace+"-kept_back"))
	g.Eventually(func() []string { return f.Events(f.g, kept) }, timeout, poll).Should(ContainElement(SatisfyAll(
		HavePrefix("Warning "+kargov1.OrphanedReason+": deletion policy orphan"), ContainSubstring("stack namespace "+f.namespace+"-kept"),
		ContainSubstring("service "+f.namespace+"-kept_db"), ContainSubstring("network "+f.namespace+"-kept_back"))))
	f.removeFromSwarm(keptOwner)

	// Unreachable: the finalizer waits for spec.timeout, then lets go.
	proxy.stop()
	f.waitCondition(env, metav1.ConditionFalse, kargov1.UnreachableReason)
	deleted := time.Now()
	g.Expect(k8s.Delete(f.ctx, stack)).To(Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(f.ctx, client.ObjectKeyFromObject(stack), stack))
	}, timeout, poll).Should(BeTrue(), "stack not deleted after its timeout")
	waited := time.Since(deleted)
	g.Expect(waited).To(BeNumerically(">=", deletionTimeout), "the finalizer let go before spec.timeout")
	t.Logf("finalizer let go %s after the deletion (spec.timeout %s)", waited.Round(time.Millisecond), deletionTimeout)
	owner := f.namespace + "/app"
	g.Eventually(func() []string { return f.Events(f.g, stack) }, timeout, poll).Should(ContainElement(SatisfyAll(
		HavePrefix("Warning "+kargov1.OrphanedReason+": deletion timed out after "+deletionTimeout.String()),
		ContainSubstring("stack namespace "+f.namespace+"-app"), ContainSubstring("service "+f.namespace+"-app_api"),
		ContainSubstring("environment flaky removes them once its endpoint answers"))))
	f.Eventually(env, func(g Gomega) {
		g.Expect(env.Status.OrphanedOwners).To(ConsistOf(HaveField("Owner", owner)))
	})
	g.Expect(ownedOnSwarm(f, owner)).To(ContainElement("service "+f.namespace+"-app_api"), "removed while the endpoint was down")

	// Back: the Environment removes what was left, and forgets the owner.
	back := time.Now()
	proxy.start(t)
	f.Eventually(env, func(g Gomega) {
		testenv.ExpectReady(g, env)
		g.Expect(env.Status.OrphanedOwners).To(BeEmpty())
		g.Expect(ownedOnSwarm(f, owner)).To(BeEmpty())
	})
	t.Logf("objects left by the deleted stack removed %s after the endpoint came back", time.Since(back).Round(time.Millisecond))
	g.Eventually(func() []string { return f.Events(f.g, env) }, timeout, poll).Should(ContainElement(SatisfyAll(
		HavePrefix("Normal "+kargov1.OrphansRemovedReason+": removed what stack "+owner+" left"),
		ContainSubstring("service "+f.namespace+"-app_api"), ContainSubstring("network "+f.namespace+"-app_back"))))
}

// ownedOnSwarm lists the services and networks with the owner label on the
// Swarm, as "kind name".
func ownedOnSwarm(f *fixture, owner string) []string {
	f.t.Helper()
	args := filters.NewArgs(filters.Arg("label", kargov1.OwnerLabel+"="+owner))
	services, err := docker.ServiceList(f.ctx, dockerswarm.ServiceListOptions{Filters: args})
	if err != nil {
		return []string{err.Error()}
	}
	networks, err := docker.NetworkList(f.ctx, network.ListOptions{Filters: args})
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, s := range services {
		out = append(out, "service "+s.Spec.Name)
	}
	for _, n := range networks {
		out = append(out, "network "+n.Name)
	}
	return out
}

// removeFromSwarm removes the services, then the networks, of an owner
// (what a test left on purpose).
func (f *fixture) removeFromSwarm(owner string) {
	f.t.Helper()
	args := filters.NewArgs(filters.Arg("label", kargov1.OwnerLabel+"="+owner))
	f.g.Eventually(func(g Gomega) {
		services, err := docker.ServiceList(f.ctx, dockerswarm.ServiceListOptions{Filters: args})
		g.Expect(err).NotTo(HaveOccurred())
		for _, s := range services {
			g.Expect(docker.ServiceRemove(f.ctx, s.ID)).To(Succeed())
		}
		networks, err := docker.NetworkList(f.ctx, network.ListOptions{Filters: args})
		g.Expect(err).NotTo(HaveOccurred())
		for _, n := range networks {
			g.Expect(docker.NetworkRemove(f.ctx, n.ID)).To(Succeed())
		}
	}, timeout, poll).Should(Succeed())
}

// stallingProxy relays a TCP port to the Docker socket until it is
// stalled: then it accepts connections and never answers, on new ones and
// on those already open. It stands in for an endpoint that hangs (a
// stopped VM, a firewall dropping packets); the engine behind it is real.
type stallingProxy struct {
	addr, target string
	stalled      atomic.Bool
	mu           sync.Mutex
	clients      []net.Conn
	upstreams    []net.Conn
}

func newStallingProxy(t *testing.T, target string) *stallingProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallingProxy{addr: l.Addr().String(), target: target}
	t.Cleanup(func() {
		l.Close()
		p.resume()
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.clients = append(p.clients, c)
			if p.stalled.Load() {
				p.mu.Unlock()
				continue // held open, never answered
			}
			up, err := net.Dial("unix", p.target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.upstreams = append(p.upstreams, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c) }()
			go func() {
				_, _ = io.Copy(c, up)
				if !p.stalled.Load() {
					c.Close()
				}
			}()
		}
	}()
	return p
}

// stall stops answering: the engine side of every relay is cut, the
// client side stays open.
func (p *stallingProxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled.Store(true)
	closeAll(p.upstreams)
	p.upstreams = nil
}

// resume relays again; the connections held open are closed.
func (p *stallingProxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled.Store(false)
	closeAll(p.clients)
	p.clients = nil
}

// TestStalledEndpoint: an endpoint that accepts connections and never
// answers holds no reconcile longer than the request timeout, so the
// Stacks of a healthy Environment still converge while more Stacks of the
// stalled one than run at once (MaxConcurrentReconciles) ask it something;
// the stalled Environment reports Unreachable within the timeout.
func TestStalledEndpoint(t *testing.T) {
	// Before the fixture: its listener closes after the Stacks are gone.
	proxy := newStallingProxy(t, strings.TrimPrefix(dockerHost, "unix://"))
	f := newFixture(t)
	g := f.g
	healthy := f.env
	// The Stacks of the stalled Environment are deleted through it.
	t.Cleanup(proxy.resume)
	stalling := f.environment("stalling", kargov1.Endpoint{Host: "tcp://" + proxy.addr, Insecure: true})
	stalling.Spec.Interval = &metav1.Duration{Duration: 2 * time.Second}
	f.Create(stalling)
	f.waitReady(stalling)
	f.env = stalling
	var stalled []*kargov1.Stack
	for i := range controllers.DefaultMaxConcurrentReconciles + 2 {
		stalled = append(stalled, f.stackWith(fmt.Sprintf("s%d", i), sleeper(fmt.Sprintf("s%d", i))))
	}
	for _, st := range stalled {
		f.waitStackReady(st, 1)
	}
	f.env = healthy

	proxy.stall()
	start := time.Now()
	// Every Stack of the stalled endpoint asks it something now.
	for _, st := range stalled {
		f.Update(st, func() {
			st.Annotations = map[string]string{kargov1.ReconcileRequestAnnotation: start.Format(time.RFC3339Nano)}
		})
	}
	app := f.stackWith("app", sleeper("web"))
	f.waitStackReady(app, 1)
	converged := time.Since(start)
	t.Logf("healthy stack Ready %s after the other endpoint stalled (request timeout %s)", converged.Round(time.Millisecond), engineRequestTimeout)
	// Before: the requests waited 60 s (the transport's header timeout)
	// and held every reconcile that long.
	g.Expect(converged).To(BeNumerically("<", engineRequestTimeout+scaled(20*time.Second)), "the stalled endpoint held the healthy Environment's Stack")

	msg := f.waitCondition(stalling, metav1.ConditionFalse, kargov1.UnreachableReason)
	unreachable := time.Since(start)
	t.Logf("stalled Environment Unreachable %s after the stall: %s", unreachable.Round(time.Millisecond), msg)
	g.Expect(msg).To(ContainSubstring("no answer within " + engineRequestTimeout.String()))
	// The ping may wait twice: the Docker client tries HEAD /_ping, then GET.
	g.Expect(unreachable).To(BeNumerically("<", 2*engineRequestTimeout+scaled(10*time.Second)))
}
