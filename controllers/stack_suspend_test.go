package controllers_test

import (
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/testenv"
)

// TestSuspendedStack: a suspended Stack says so (Ready=Unknown, reason
// Suspended) and leaves the Swarm alone, a change of its Services
// included; resumed, it applies the change and is Ready again.
func TestSuspendedStack(t *testing.T) {
	f := newFixture(t)
	stack := f.stackWith("paused", sleeper("web"))
	f.waitStackReady(stack, 1)
	version := f.swarmServiceIn("paused", "web").Version.Index

	f.Update(stack, func() { stack.Spec.Suspend = true })
	f.Eventually(stack, func(g Gomega) {
		testenv.ExpectCondition(g, stack, kargov1.ReadyCondition, metav1.ConditionUnknown, kargov1.SuspendedReason)
	})
	web := &kargov1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: f.namespace}}
	f.Update(web, func() { web.Spec.Env = []kargov1.EnvVar{{Name: "MODE", Value: "changed"}} })
	f.requestReconcile(stack)
	f.g.Expect(f.swarmServiceIn("paused", "web").Version.Index).To(Equal(version), "a suspended Stack updated its service")

	f.Update(stack, func() { stack.Spec.Suspend = false })
	f.g.Eventually(func() []string {
		return f.swarmServiceIn("paused", "web").Spec.TaskTemplate.ContainerSpec.Env
	}, timeout, poll).Should(ContainElement("MODE=changed"))
	f.waitStackReady(stack, 1)
}

// TestSuspendedEnvironment: spec.suspend on an Environment suspends its
// Stacks, as documented: each says so (Ready=Unknown, reason Suspended,
// naming the Environment) and leaves the Swarm alone; resumed, they apply
// what changed meanwhile.
func TestSuspendedEnvironment(t *testing.T) {
	f := newFixture(t)
	stack := f.stackWith("held", sleeper("web"))
	f.waitStackReady(stack, 1)
	version := f.swarmServiceIn("held", "web").Version.Index

	f.Update(f.env, func() { f.env.Spec.Suspend = true })
	f.Eventually(stack, func(g Gomega) {
		msg := testenv.ExpectCondition(g, stack, kargov1.ReadyCondition, metav1.ConditionUnknown, kargov1.SuspendedReason)
		g.Expect(msg).To(ContainSubstring("environment local is suspended"))
		g.Expect(meta.FindStatusCondition(stack.Status.Conditions, kargov1.ReconcilingCondition)).To(BeNil())
	})
	web := &kargov1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: f.namespace}}
	f.Update(web, func() { web.Spec.Env = []kargov1.EnvVar{{Name: "MODE", Value: "changed"}} })
	f.requestReconcile(stack)
	f.g.Expect(f.swarmServiceIn("held", "web").Version.Index).To(Equal(version), "a Stack of a suspended Environment updated its service")

	f.Update(f.env, func() { f.env.Spec.Suspend = false })
	f.g.Eventually(func() []string {
		return f.swarmServiceIn("held", "web").Spec.TaskTemplate.ContainerSpec.Env
	}, timeout, poll).Should(ContainElement("MODE=changed"))
	f.waitStackReady(stack, 1)
}
