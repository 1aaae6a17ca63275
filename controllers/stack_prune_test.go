package controllers_test

import (
	"testing"

	dockerswarm "github.com/docker/docker/api/types/swarm"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kargo-io/kargo/internal/desired"
	"github.com/kargo-io/kargo/internal/swarm"
)

// TestPruneFalseRemovesOldVersions: with prune: false a Stack keeps the
// service it no longer declares, but not the versions of its secret that
// two changes of the Secret left behind: once no service uses them they
// go, and only the current version is left.
func TestPruneFalseRemovesOldVersions(t *testing.T) {
	f := newFixture(t)
	other := sleeper("other")
	stack, _ := f.secretStack("keep", "one", false, other)
	swarmNS := stack.Spec.Namespace
	f.waitStackReady(stack, 2)
	key, _, err := desired.NamingKey(f.ctx, k8s, stack)
	f.g.Expect(err).NotTo(HaveOccurred())
	f.g.Expect(key).NotTo(BeNil())

	secret := &corev1.Secret{}
	f.g.Expect(k8s.Get(f.ctx, client.ObjectKey{Namespace: f.namespace, Name: "db"}, secret)).To(Succeed())
	for _, value := range []string{"two", "three"} {
		f.update(secret, func() { secret.Data["password"] = []byte(value) })
		version := swarm.VersionedName(key, swarmNS, "db-password", []byte(value))
		f.eventually(stack, func(g Gomega) {
			expectReady(g, stack)
			g.Expect(stack.Status.ReadyServices).To(Equal("2/2"))
			app, _, err := docker.ServiceInspectWithRaw(f.ctx, swarm.ScopedName(swarmNS, "app"), dockerswarm.ServiceInspectOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(app.Spec.TaskTemplate.ContainerSpec.Secrets).To(ConsistOf(HaveField("SecretName", version)))
		})
	}

	g := f.g
	g.Expect(k8s.Delete(f.ctx, other)).To(Succeed())
	current := swarm.VersionedName(key, swarmNS, "db-password", []byte("three"))
	f.eventually(stack, func(g Gomega) {
		expectReady(g, stack)
		g.Expect(stack.Status.ReadyServices).To(Equal("1/1"), "the Stack has not reconciled since the Service was deleted")
		g.Expect(f.ownedFiles(g, stack, swarm.KindSecret)).To(ConsistOf(current), "old secret versions left with prune: false")
		_, _, err := docker.ServiceInspectWithRaw(f.ctx, swarm.ScopedName(swarmNS, "other"), dockerswarm.ServiceInspectOptions{})
		g.Expect(err).NotTo(HaveOccurred(), "prune: false removed the service the Stack no longer declares")
	})
}
