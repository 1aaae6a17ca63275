//go:build multinode

package multinode

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dockerswarm "github.com/docker/docker/api/types/swarm"
	. "github.com/onsi/gomega"
	"k8s.io/utils/ptr"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/testenv"
)

// TestNodeDrained: someone drains a node by hand. Kargo leaves the node and
// the service alone (the service's version does not move, even through a
// requested reconcile) and reports the task that has nowhere to go, the
// Environment the node drained; once the node is active again, the Stack
// is Ready with no update issued.
func TestNodeDrained(t *testing.T) {
	const drained = "kargo-node2"
	f := newFixture(t)
	f.deploy(sleeper("spread", func(s *kargov1.ServiceSpec) {
		s.Replicas = ptr.To[int64](3)
		s.Placement = &kargov1.Placement{MaxReplicasPerNode: ptr.To[int64](1)}
	}))
	var version uint64
	f.Eventually(f.stack, func(g Gomega) {
		f.stackReady(g)
		g.Expect(f.runningPerNode(g, "spread")).To(Equal(map[string]int{"kargo-node1": 1, "kargo-node2": 1, "kargo-node3": 1}))
		version = f.swarmService(g, "spread").Version.Index
	})

	setAvailability := func(g Gomega, availability dockerswarm.NodeAvailability) {
		n := node(g, drained)
		spec := n.Spec
		spec.Availability = availability
		g.Expect(docker.NodeUpdate(f.ctx, n.ID, n.Version, spec)).To(Succeed())
	}
	f.g.Eventually(func(g Gomega) { setAvailability(g, dockerswarm.NodeAvailabilityDrain) }, timeout, poll).Should(Succeed())
	t.Cleanup(func() {
		NewWithT(t).Eventually(func(g Gomega) {
			if node(g, drained).Spec.Availability != dockerswarm.NodeAvailabilityActive {
				setAvailability(g, dockerswarm.NodeAvailabilityActive)
			}
		}, timeout, poll).Should(Succeed())
	})

	token := time.Now().Format(time.RFC3339Nano)
	f.Eventually(f.stack, func(g Gomega) {
		if f.stack.Annotations[kargov1.ReconcileRequestAnnotation] != token {
			if f.stack.Annotations == nil {
				f.stack.Annotations = map[string]string{}
			}
			f.stack.Annotations[kargov1.ReconcileRequestAnnotation] = token
			g.Expect(k8s.Update(f.ctx, f.stack)).To(Succeed())
		}
		g.Expect(f.stack.Status.LastHandledReconcileAt).To(Equal(token))
		message := testenv.ExpectCondition(g, f.stack, kargov1.ReadyCondition, metav1.ConditionFalse, kargov1.ServicesNotReadyReason)
		g.Expect(message).To(SatisfyAll(ContainSubstring("spread: "), ContainSubstring("no suitable node"), ContainSubstring("not available")))
		g.Expect(f.stack.Status.ReadyServices).To(Equal("0/1"))
		g.Expect(serviceState(g, f.stack, "spread").Replicas).To(Equal("2/3"))
		g.Expect(f.runningPerNode(g, "spread")).To(Equal(map[string]int{"kargo-node1": 1, "kargo-node3": 1}))
		g.Expect(node(g, drained).Spec.Availability).To(Equal(dockerswarm.NodeAvailabilityDrain))
		g.Expect(f.swarmService(g, "spread").Version.Index).To(Equal(version), "Kargo updated the service")
	})

	f.Eventually(f.env, func(g Gomega) { f.unavailableNodes(g, drained+" (drain)") })

	f.g.Eventually(func(g Gomega) { setAvailability(g, dockerswarm.NodeAvailabilityActive) }, timeout, poll).Should(Succeed())
	f.Eventually(f.env, func(g Gomega) { f.unavailableNodes(g) })
	f.Eventually(f.stack, func(g Gomega) {
		f.stackReady(g)
		g.Expect(f.runningPerNode(g, "spread")).To(Equal(map[string]int{"kargo-node1": 1, "kargo-node2": 1, "kargo-node3": 1}))
		g.Expect(f.swarmService(g, "spread").Version.Index).To(Equal(version), "Kargo updated the service")
	})
}
