//go:build multinode

package multinode

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dockerswarm "github.com/docker/docker/api/types/swarm"
	. "github.com/onsi/gomega"
	"k8s.io/utils/ptr"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/testenv"
)

// TestWorkerKilled: a worker's engine crashes. Its tasks of a spread
// service move to the other nodes; a service pinned to it waits, and the
// Stack says so meanwhile (running/desired, no node available), and the
// Environment names the node down. The worker comes back: the pinned task
// runs on it again and the Stack is Ready.
func TestWorkerKilled(t *testing.T) {
	const victim = "kargo-node3"
	f := newFixture(t)
	f.deploy(
		sleeper("spread", func(s *kargov1.ServiceSpec) {
			s.Replicas = ptr.To[int64](3)
			s.Placement = &kargov1.Placement{MaxReplicasPerNode: ptr.To[int64](2)}
		}),
		sleeper("pinned", func(s *kargov1.ServiceSpec) {
			s.Placement = &kargov1.Placement{Constraints: []string{"node.hostname==" + victim}}
		}),
	)
	f.Eventually(f.stack, func(g Gomega) {
		f.stackReady(g)
		g.Expect(f.runningPerNode(g, "spread")).To(HaveKeyWithValue(victim, 1))
		g.Expect(f.runningPerNode(g, "pinned")).To(Equal(map[string]int{victim: 1}))
	})

	_, err := swarmScript("kill-node", "3")
	f.g.Expect(err).NotTo(HaveOccurred())
	restarted := false
	restart := func() {
		if !restarted {
			restarted = true
			_, err := swarmScript("up")
			f.g.Expect(err).NotTo(HaveOccurred())
		}
	}
	t.Cleanup(restart)

	f.Eventually(f.stack, func(g Gomega) {
		g.Expect(node(g, victim).Status.State).To(Equal(dockerswarm.NodeStateDown))
		message := testenv.ExpectCondition(g, f.stack, kargov1.ReadyCondition, metav1.ConditionFalse, kargov1.ServicesNotReadyReason)
		g.Expect(message).To(SatisfyAll(ContainSubstring("pinned: "), ContainSubstring("no suitable node"), ContainSubstring("not available")))
		g.Expect(message).NotTo(ContainSubstring("spread"))
		g.Expect(f.stack.Status.ReadyServices).To(Equal("1/2"))
		g.Expect(serviceState(g, f.stack, "pinned").Replicas).To(Equal("0/1"))
		g.Expect(serviceState(g, f.stack, "spread").Replicas).To(Equal("3/3"))
		spread := f.runningPerNode(g, "spread")
		g.Expect(spread).NotTo(HaveKey(victim))
		g.Expect(spread).To(SatisfyAll(HaveKeyWithValue("kargo-node1", BeNumerically(">=", 1)), HaveKeyWithValue("kargo-node2", BeNumerically(">=", 1))))
	})

	f.Eventually(f.env, func(g Gomega) { f.unavailableNodes(g, victim+" (down)") })

	restart()
	f.Eventually(f.env, func(g Gomega) { f.unavailableNodes(g) })
	f.Eventually(f.stack, func(g Gomega) {
		g.Expect(node(g, victim).Status.State).To(Equal(dockerswarm.NodeStateReady))
		f.stackReady(g)
		g.Expect(f.runningPerNode(g, "pinned")).To(Equal(map[string]int{victim: 1}))
		g.Expect(serviceState(g, f.stack, "spread").Replicas).To(Equal("3/3"))
	})
}
