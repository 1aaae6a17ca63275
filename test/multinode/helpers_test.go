//go:build multinode

package multinode

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	dockerswarm "github.com/docker/docker/api/types/swarm"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/testenv"
)

// Waits are bounded by timeout: long enough for a node to be declared down
// and its tasks moved on a busy 2-core machine.
const (
	timeout = 3 * time.Minute
	poll    = 500 * time.Millisecond
)

// fixture is one test's namespace (m-<random>: testenv.Namespace, whose
// cleanup deletes the Stack, then the Environment and the node labels it
// set, then the namespace), its Environment on the multi-node swarm and its
// Stack.
type fixture struct {
	*testenv.Namespace
	t         *testing.T
	g         *WithT
	ctx       context.Context
	namespace string
	env       *kargov1.Environment
	stack     *kargov1.Stack
}

func newFixture(t *testing.T, nodeLabels ...kargov1.NodeLabels) *fixture {
	t.Helper()
	ns := testenv.NewNamespace(t, k8s, "m-", timeout, poll)
	f := &fixture{Namespace: ns, t: t, g: NewWithT(t), ctx: ns.Ctx, namespace: ns.Name}
	f.env = &kargov1.Environment{
		ObjectMeta: metav1.ObjectMeta{Name: "multi", Namespace: f.namespace},
		Spec:       kargov1.EnvironmentSpec{Endpoint: kargov1.Endpoint{Host: dockerHost}, NodeLabels: nodeLabels},
	}
	f.Create(f.env)
	f.Eventually(f.env, func(g Gomega) { testenv.ExpectReady(g, f.env) })
	return f
}

// deploy creates the Stack "app" (one overlay network "back") and its Services.
func (f *fixture) deploy(services ...*kargov1.Service) {
	f.t.Helper()
	f.stack = &kargov1.Stack{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: f.namespace},
		Spec: kargov1.StackSpec{
			EnvironmentRef: kargov1.EnvironmentReference{Name: f.env.Name},
			Namespace:      f.namespace,
			Networks:       []kargov1.Network{{Name: "back"}},
		},
	}
	f.Create(f.stack)
	for _, svc := range services {
		svc.Namespace = f.namespace
		svc.Spec.StackRef.Name = f.stack.Name
		svc.Spec.Networks = []kargov1.NetworkAttachment{{Name: "back"}}
		f.Create(svc)
	}
}

// sleeper is a Service whose tasks sleep, stopped within a second.
func sleeper(name string, configure func(*kargov1.ServiceSpec)) *kargov1.Service {
	svc := &kargov1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: kargov1.ServiceSpec{
		Image: "kargo.local/busybox:1", Command: []string{"sleep", "3600"},
		StopGracePeriod: &metav1.Duration{Duration: time.Second},
	}}
	configure(&svc.Spec)
	return svc
}

// serviceState is the Stack's observed state of one of its services.
func serviceState(g Gomega, stack *kargov1.Stack, name string) kargov1.ServiceState {
	for _, s := range stack.Status.Services {
		if s.Name == name {
			return s
		}
	}
	g.Expect(stack.Status.Services).To(ContainElement(HaveField("Name", name)), "service %s not in the Stack's status", name)
	return kargov1.ServiceState{}
}

// stackReady asserts, in an eventually on the Stack, that it is Ready with
// all of its services.
func (f *fixture) stackReady(g Gomega) {
	testenv.ExpectReady(g, f.stack)
	n := len(f.stack.Status.Services)
	g.Expect(n).To(BeNumerically(">", 0))
	g.Expect(f.stack.Status.ReadyServices).To(Equal(fmt.Sprintf("%d/%d", n, n)))
}

// unavailableNodes asserts, in an eventually on the Environment, that it
// lists exactly these unavailable nodes ("<hostname> (<why>)") in its
// status and Ready message, with a NodeUnavailable event for each, and a
// NodeAvailable event for each node that came back when none is left.
func (f *fixture) unavailableNodes(g Gomega, nodes ...string) {
	message := testenv.ExpectReady(g, f.env)
	events := f.Events(g, f.env)
	if len(nodes) == 0 {
		g.Expect(f.env.Status.Swarm.UnavailableNodes).To(BeEmpty())
		g.Expect(message).NotTo(ContainSubstring("unavailable"))
		g.Expect(events).To(ContainElement(HavePrefix("Normal " + kargov1.NodeAvailableReason + ": node ")))
		return
	}
	g.Expect(f.env.Status.Swarm.UnavailableNodes).To(Equal(nodes))
	g.Expect(message).To(HaveSuffix("; unavailable node(s): " + strings.Join(nodes, ", ")))
	for _, n := range nodes {
		g.Expect(events).To(ContainElement("Warning " + kargov1.NodeUnavailableReason + ": node " + n + " takes no new tasks: Swarm moves its tasks to other nodes"))
	}
}

// runningPerNode counts the running tasks of the Stack's service name per
// node hostname.
func (f *fixture) runningPerNode(g Gomega, name string) map[string]int {
	tasks, err := docker.TaskList(f.ctx, dockerswarm.TaskListOptions{Filters: filters.NewArgs(
		filters.Arg("service", f.namespace+"_"+name), filters.Arg("desired-state", "running"))})
	g.Expect(err).NotTo(HaveOccurred())
	hostnames := nodeHostnames(g)
	perNode := map[string]int{}
	for _, t := range tasks {
		if t.Status.State == dockerswarm.TaskStateRunning {
			perNode[hostnames[t.NodeID]]++
		}
	}
	return perNode
}

// nodeHostnames maps node IDs to hostnames.
func nodeHostnames(g Gomega) map[string]string {
	nodes, err := docker.NodeList(context.Background(), dockerswarm.NodeListOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	out := map[string]string{}
	for _, n := range nodes {
		out[n.ID] = n.Description.Hostname
	}
	return out
}

// node inspects the node of a hostname.
func node(g Gomega, hostname string) dockerswarm.Node {
	nodes, err := docker.NodeList(context.Background(), dockerswarm.NodeListOptions{Filters: filters.NewArgs(filters.Arg("name", hostname))})
	g.Expect(err).NotTo(HaveOccurred())
	for _, n := range nodes {
		if n.Description.Hostname == hostname {
			return n
		}
	}
	g.Expect(nodes).To(ContainElement(HaveField("Description.Hostname", hostname)), "no node %s", hostname)
	return dockerswarm.Node{}
}

// swarmService inspects the Stack's service name on the Swarm.
func (f *fixture) swarmService(g Gomega, name string) dockerswarm.Service {
	svc, _, err := docker.ServiceInspectWithRaw(f.ctx, f.namespace+"_"+name, dockerswarm.ServiceInspectOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	return svc
}
