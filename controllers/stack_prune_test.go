package controllers_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	dockerswarm "github.com/docker/docker/api/types/swarm"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/desired"
	"github.com/kargo-io/kargo/internal/swarm"
	"github.com/kargo-io/kargo/internal/testenv"
)

// TestPruneFalseRemovesOldVersions: with prune: false a Stack keeps the
// service it no longer declares, but not the versions of its secret that
// two changes of the Secret left behind, nor one named by a plain sha256
// as before naming keys (an upgrade): once no service uses them they go,
// and only the current version is left.
func TestPruneFalseRemovesOldVersions(t *testing.T) {
	f := newFixture(t)
	swarmNS := f.namespace + "-keep"
	sum := sha256.Sum256([]byte("one"))
	_, err := docker.SecretCreate(f.ctx, dockerswarm.SecretSpec{Annotations: dockerswarm.Annotations{
		Name:   swarm.ScopedName(swarmNS, "db-password") + "-" + hex.EncodeToString(sum[:])[:10],
		Labels: map[string]string{kargov1.OwnerLabel: f.namespace + "/keep", kargov1.StackNamespaceLabel: swarmNS, kargov1.LogicalNameLabel: "db-password"},
	}, Data: []byte("one")})
	f.g.Expect(err).NotTo(HaveOccurred())
	other := sleeper("other")
	stack, _ := f.secretStack("keep", "one", false, other)
	f.g.Expect(stack.Spec.Namespace).To(Equal(swarmNS))
	f.waitStackReady(stack, 2)
	key, _, err := desired.NamingKey(f.ctx, k8s, stack)
	f.g.Expect(err).NotTo(HaveOccurred())
	f.g.Expect(key).NotTo(BeNil())

	secret := &corev1.Secret{}
	f.g.Expect(k8s.Get(f.ctx, client.ObjectKey{Namespace: f.namespace, Name: "db"}, secret)).To(Succeed())
	for _, value := range []string{"two", "three"} {
		f.Update(secret, func() { secret.Data["password"] = []byte(value) })
		version := swarm.VersionedName(key, swarmNS, "db-password", []byte(value))
		f.Eventually(stack, func(g Gomega) {
			testenv.ExpectReady(g, stack)
			g.Expect(stack.Status.ReadyServices).To(Equal("2/2"))
			app, _, err := docker.ServiceInspectWithRaw(f.ctx, swarm.ScopedName(swarmNS, "app"), dockerswarm.ServiceInspectOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(app.Spec.TaskTemplate.ContainerSpec.Secrets).To(ConsistOf(HaveField("SecretName", version)))
		})
	}

	g := f.g
	g.Expect(k8s.Delete(f.ctx, other)).To(Succeed())
	current := swarm.VersionedName(key, swarmNS, "db-password", []byte("three"))
	f.Eventually(stack, func(g Gomega) {
		testenv.ExpectReady(g, stack)
		g.Expect(stack.Status.ReadyServices).To(Equal("1/1"), "the Stack has not reconciled since the Service was deleted")
		g.Expect(f.ownedFiles(g, stack, swarm.KindSecret)).To(ConsistOf(current), "old secret versions left with prune: false")
		_, _, err := docker.ServiceInspectWithRaw(f.ctx, swarm.ScopedName(swarmNS, "other"), dockerswarm.ServiceInspectOptions{})
		g.Expect(err).NotTo(HaveOccurred(), "prune: false removed the service the Stack no longer declares")
	})
}
