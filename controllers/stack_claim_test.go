package controllers_test

import (
	"testing"

	dockerswarm "github.com/docker/docker/api/types/swarm"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/testenv"
)

// TestNamespaceClaimedByOneStack: a Swarm stack namespace belongs to one
// Stack. A Stack of another Kubernetes namespace naming the same Swarm
// namespace is Conflict (Stalled) and creates and changes nothing there, so
// it can never mount the first Stack's volumes (<namespace>_<name>). An
// object of another Kargo installation (manager label) in a Stack's
// namespace also stops it, and survives the Stack's deletion.
func TestNamespaceClaimedByOneStack(t *testing.T) {
	first, second := newFixture(t), newFixture(t)
	g := first.g
	shared := first.namespace + "-shared"
	claim := func(f *fixture, name string) *kargov1.Stack {
		stack := &kargov1.Stack{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.namespace},
			Spec: kargov1.StackSpec{
				EnvironmentRef: kargov1.EnvironmentReference{Name: f.env.Name},
				Namespace:      shared,
				Networks:       []kargov1.Network{{Name: "back"}},
			},
		}
		f.Create(stack)
		svc := sleeper("web")
		svc.Namespace, svc.Spec.StackRef.Name = f.namespace, name
		f.Create(svc)
		return stack
	}
	mine := claim(first, "mine")
	first.waitStackReady(mine, 1)
	inspect := func(name string) dockerswarm.Service {
		svc, _, err := docker.ServiceInspectWithRaw(first.ctx, name, dockerswarm.ServiceInspectOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		return svc
	}
	web := inspect(shared + "_web")
	g.Expect(web.Spec.Labels).To(HaveKey(kargov1.ManagerLabel), "objects carry the installation's identity")

	theirs := claim(second, "theirs")
	second.Eventually(theirs, func(g Gomega) {
		msg := testenv.ExpectCondition(g, theirs, kargov1.ReadyCondition, metav1.ConditionFalse, kargov1.ConflictReason)
		g.Expect(msg).To(ContainSubstring("swarm namespace " + shared + " belongs to someone else"))
		g.Expect(msg).To(ContainSubstring("owner " + first.namespace + "/mine"))
		testenv.ExpectCondition(g, theirs, kargov1.StalledCondition, metav1.ConditionTrue, kargov1.ConflictReason)
	})
	second.requestReconcile(theirs)
	after := inspect(shared + "_web")
	g.Expect(after.Version).To(Equal(web.Version), "the first Stack's service was changed")
	g.Expect(after.Spec.Labels).To(HaveKeyWithValue(kargov1.OwnerLabel, first.namespace+"/mine"))
	first.waitStackReady(mine, 1)

	// Another management cluster's object in the namespace, with the same
	// owner label (same Kubernetes namespace and Stack name there).
	other, err := docker.ConfigCreate(first.ctx, dockerswarm.ConfigSpec{
		Annotations: dockerswarm.Annotations{Name: shared + "_elsewhere", Labels: map[string]string{
			kargov1.StackNamespaceLabel: shared, kargov1.OwnerLabel: first.namespace + "/mine", kargov1.ManagerLabel: "another-cluster",
		}},
		Data: []byte("theirs"),
	})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = docker.ConfigRemove(first.ctx, other.ID) })
	first.requestReconcile(mine)
	first.waitMessage(mine, kargov1.ConflictReason, "config "+shared+"_elsewhere (owner "+first.namespace+"/mine, manager another-cluster)")

	// Deleting the first Stack removes its own objects, not the other
	// installation's.
	g.Expect(k8sDelete(first, mine)).To(Succeed())
	g.Expect(first.stackServices(shared)).To(BeZero())
	_, _, err = docker.ConfigInspectWithRaw(first.ctx, other.ID)
	g.Expect(err).NotTo(HaveOccurred(), "another installation's config was removed")
}
