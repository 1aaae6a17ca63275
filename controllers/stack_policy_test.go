package controllers_test

import (
	"testing"

	"github.com/docker/docker/api/types/mount"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/testenv"
)

// TestStackPolicyDenied: a Stack whose Service binds / of the node is
// refused by the default policy (Ready=False, Stalled, PolicyDenied, a
// Warning event naming the Service and field) without one write to the
// Engine; allowing / in the Environment's policy deploys it; narrowing the
// policy again refuses the Stack and leaves the running service as it is.
func TestStackPolicyDenied(t *testing.T) {
	f := newFixture(t)
	g := f.g
	engine := f.engine()
	writes := engine.Writes()

	svc := sleeper("web")
	svc.Spec.Mounts = []kargov1.Mount{{Type: "bind", Source: "/", Target: "/host", ReadOnly: true}}
	stack := f.stackWith("pol", svc)
	denied := `service web: mounts[0].source "/": host path not allowed by the Environment's policy (spec.policy.allowedHostPaths: none)`
	f.Eventually(stack, func(g Gomega) {
		g.Expect(testenv.ExpectCondition(g, stack, kargov1.ReadyCondition, metav1.ConditionFalse, kargov1.PolicyDeniedReason)).To(Equal(denied))
		testenv.ExpectCondition(g, stack, kargov1.StalledCondition, metav1.ConditionTrue, kargov1.PolicyDeniedReason)
		g.Expect(f.Events(f.g, stack)).To(ContainElement("Warning PolicyDenied: " + denied))
	})
	// One more reconcile, handled: still nothing written, nothing made.
	f.requestReconcile(stack)
	g.Expect(engine.Writes()-writes).To(BeZero(), "engine writes for a Stack the policy denies")
	g.Expect(f.stackServices(stack.Spec.Namespace)).To(BeZero())

	// Allowed by the Environment: the Stack deploys, the mount as asked.
	f.Update(f.env, func() { f.env.Spec.Policy = &kargov1.WorkloadPolicy{AllowedHostPaths: []string{"/"}} })
	f.waitStackReady(stack, 1)
	live := f.swarmServiceIn("pol", "web")
	g.Expect(live.Spec.TaskTemplate.ContainerSpec.Mounts).To(ConsistOf(mount.Mount{Type: mount.TypeBind, Source: "/", Target: "/host", ReadOnly: true}))

	// Narrowed: refused again, and what runs is left running, unchanged.
	f.Update(f.env, func() { f.env.Spec.Policy.AllowedHostPaths = []string{"/data"} })
	f.waitMessage(stack, kargov1.PolicyDeniedReason, `(spec.policy.allowedHostPaths: /data)`)
	writes = engine.Writes()
	f.requestReconcile(stack)
	g.Expect(engine.Writes()-writes).To(BeZero(), "engine writes for a Stack the policy denies")
	still := f.swarmServiceIn("pol", "web")
	g.Expect(still.Version).To(Equal(live.Version), "the running service was changed")

	g.Expect(k8sDelete(f, stack)).To(Succeed())
}
