//go:build multinode

package multinode

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	. "github.com/onsi/gomega"
	"k8s.io/utils/ptr"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/testenv"
)

// TestPlacement: a constraint on a label that Environment.nodeLabels sets
// on one node puts every task there; maxReplicasPerNode spreads tasks one
// per node and leaves the one too many pending, said in the Stack's status;
// a global service runs once on every node.
func TestPlacement(t *testing.T) {
	f := newFixture(t, kargov1.NodeLabels{Hostname: "kargo-node2", Labels: map[string]string{"multinode.disk": "ssd"}})
	f.deploy(
		sleeper("pinned", func(s *kargov1.ServiceSpec) {
			s.Replicas = ptr.To[int64](3)
			s.Placement = &kargov1.Placement{Constraints: []string{"node.labels.multinode.disk==ssd"}}
		}),
		sleeper("spread", func(s *kargov1.ServiceSpec) {
			s.Replicas = ptr.To[int64](3)
			s.Placement = &kargov1.Placement{MaxReplicasPerNode: ptr.To[int64](1)}
		}),
		sleeper("everywhere", func(s *kargov1.ServiceSpec) { s.Mode = "global" }),
	)
	f.Eventually(f.stack, func(g Gomega) {
		f.stackReady(g)
		g.Expect(f.runningPerNode(g, "pinned")).To(Equal(map[string]int{"kargo-node2": 3}))
		g.Expect(f.runningPerNode(g, "spread")).To(Equal(map[string]int{"kargo-node1": 1, "kargo-node2": 1, "kargo-node3": 1}))
		g.Expect(f.runningPerNode(g, "everywhere")).To(Equal(map[string]int{"kargo-node1": 1, "kargo-node2": 1, "kargo-node3": 1}))
		g.Expect(serviceState(g, f.stack, "everywhere").Replicas).To(Equal("3/3"))
	})

	// A fourth replica has no node left: pending, and the Stack says why.
	spread := &kargov1.Service{}
	spread.Name, spread.Namespace = "spread", f.namespace
	f.Eventually(spread, func(g Gomega) {
		spread.Spec.Replicas = ptr.To[int64](4)
		g.Expect(k8s.Update(f.ctx, spread)).To(Succeed())
	})
	f.Eventually(f.stack, func(g Gomega) {
		message := testenv.ExpectCondition(g, f.stack, kargov1.ReadyCondition, metav1.ConditionFalse, kargov1.ServicesNotReadyReason)
		g.Expect(message).To(SatisfyAll(ContainSubstring("spread: "), ContainSubstring("no suitable node"), ContainSubstring("max replicas per node")))
		g.Expect(f.stack.Status.ReadyServices).To(Equal("2/3"))
		g.Expect(serviceState(g, f.stack, "spread").Replicas).To(Equal("3/4"))
		g.Expect(f.runningPerNode(g, "spread")).To(Equal(map[string]int{"kargo-node1": 1, "kargo-node2": 1, "kargo-node3": 1}))
	})
}
