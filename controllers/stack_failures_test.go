package controllers_test

import (
	"testing"
	"time"

	dockerswarm "github.com/docker/docker/api/types/swarm"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/testenv"
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
	f.Eventually(stack, func(g Gomega) {
		msg := testenv.ExpectCondition(g, stack, kargov1.ReadyCondition, metav1.ConditionFalse, kargov1.ConflictReason)
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
	f.Eventually(stack, func(g Gomega) {
		msg = testenv.ExpectCondition(g, stack, kargov1.ReadyCondition, metav1.ConditionFalse, "")
		g.Expect(msg).To(SatisfyAll(ContainSubstring("18283"), ContainSubstring("No such image")))
		g.Expect(stack.Status.ReadyServices).To(Equal("1/3"))
	})
	t.Logf("Ready=False: %s", msg)

	// Declaring an external network that does not exist: reported, and the
	// services already deployed stay.
	f.Update(stack, func() {
		stack.Spec.Networks = append(stack.Spec.Networks, kargov1.Network{Name: "missing-" + f.namespace, External: true})
	})
	f.Eventually(stack, func(g Gomega) {
		msg = testenv.ExpectCondition(g, stack, kargov1.ReadyCondition, metav1.ConditionFalse, kargov1.ApplyFailedReason)
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
	f.Update(stack, func() { stack.Spec.Timeout = &metav1.Duration{Duration: scaled(10 * time.Second)} })
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

	f.Eventually(stack, func(g Gomega) {
		msg := testenv.ExpectCondition(g, stack, kargov1.StalledCondition, metav1.ConditionTrue, kargov1.ApplyFailedReason)
		g.Expect(msg).To(SatisfyAll(ContainSubstring("failing for longer than spec.timeout"), ContainSubstring("18284")))
		testenv.ExpectCondition(g, stack, kargov1.ReadyCondition, metav1.ConditionFalse, kargov1.ApplyFailedReason)
	})
}
