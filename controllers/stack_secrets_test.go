package controllers_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/filters"
	dockerswarm "github.com/docker/docker/api/types/swarm"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/desired"
	"github.com/kargo-io/kargo/internal/swarm"
	"github.com/kargo-io/kargo/internal/testenv"
)

// secretStack creates a Secret db (key password: value) and a Stack
// declaring it as db-password, with one sleeper service app that mounts
// it and reads it into its env DB_PASSWORD, and the extra services.
func (f *fixture) secretStack(name, value string, prune bool, extra ...*kargov1.Service) (*kargov1.Stack, *kargov1.Service) {
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: f.namespace}, Data: map[string][]byte{"password": []byte(value)}})
	stack := f.newStack(name)
	stack.Spec.Secrets = []kargov1.StackSecret{{Name: "db-password", SecretKeyRef: kargov1.KeySelector{Name: "db", Key: "password"}}}
	stack.Spec.Prune = &prune
	app := sleeper("app")
	app.Spec.Secrets = []kargov1.FileReference{{Name: "db-password"}}
	app.Spec.Env = []kargov1.EnvVar{{Name: "DB_PASSWORD", ValueFrom: &kargov1.EnvVarSource{SecretKeyRef: &kargov1.KeySelector{Name: "db", Key: "password"}}}}
	f.createStack(stack, append([]*kargov1.Service{app}, extra...)...)
	return stack, app
}

// ownedFiles lists the names of the Swarm secrets (or configs) a Stack owns.
func (f *fixture) ownedFiles(g Gomega, stack *kargov1.Stack, kind string) []string {
	owner := filters.NewArgs(filters.Arg("label", kargov1.OwnerLabel+"="+stack.Namespace+"/"+stack.Name))
	names := []string{}
	if kind == swarm.KindConfig {
		list, err := docker.ConfigList(f.ctx, dockerswarm.ConfigListOptions{Filters: owner})
		g.Expect(err).NotTo(HaveOccurred())
		for _, c := range list {
			names = append(names, c.Spec.Name)
		}
		return names
	}
	list, err := docker.SecretList(f.ctx, dockerswarm.SecretListOptions{Filters: owner})
	g.Expect(err).NotTo(HaveOccurred())
	for _, s := range list {
		names = append(names, s.Spec.Name)
	}
	return names
}

// TestSecretNamesKeyed: the name of a Stack's Swarm secret, which anyone on
// the Swarm can list, and the spec hash of a service reading the secret
// into its env, which anyone reading the Stack sees, are keyed digests:
// trying values (here a guessable one) against a plain sha256 finds
// nothing. The key is in a Secret the Stack owns.
func TestSecretNamesKeyed(t *testing.T) {
	f := newFixture(t)
	const value = "hunter2"
	stack, _ := f.secretStack("keyed", value, true)
	swarmNS := stack.Spec.Namespace
	sum := sha256.Sum256([]byte(value))
	plain := hex.EncodeToString(sum[:])
	f.Eventually(stack, func(g Gomega) {
		testenv.ExpectReady(g, stack)
		g.Expect(stack.Status.ReadyServices).To(Equal("1/1"))

		keySecret := &corev1.Secret{}
		g.Expect(k8s.Get(f.ctx, client.ObjectKey{Namespace: f.namespace, Name: "keyed-kargo-names"}, keySecret)).To(Succeed())
		g.Expect(metav1.IsControlledBy(keySecret, stack)).To(BeTrue(), "the naming key Secret is owned by the Stack: %v", keySecret.OwnerReferences)
		g.Expect(keySecret.Immutable).To(HaveValue(BeTrue()))
		key, _, err := desired.NamingKey(f.ctx, k8s, stack)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(key).To(HaveLen(32))

		names := f.ownedFiles(g, stack, swarm.KindSecret)
		g.Expect(names).To(ConsistOf(swarm.VersionedName(key, swarmNS, "db-password", []byte(value))))
		suffix := strings.TrimPrefix(names[0], swarm.ScopedName(swarmNS, "db-password")+"-")
		g.Expect(suffix).To(HaveLen(10))
		g.Expect(plain).NotTo(ContainSubstring(suffix), "the Swarm secret's name holds part of the value's sha256")

		g.Expect(stack.Status.Services).To(HaveLen(1))
		live, _, err := docker.ServiceInspectWithRaw(f.ctx, swarm.ScopedName(swarmNS, "app"), dockerswarm.ServiceInspectOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(live.Spec.TaskTemplate.ContainerSpec.Env).To(ContainElement("DB_PASSWORD="+value), "the test needs the value in the spec")
		g.Expect(live.Spec.Labels).To(HaveKeyWithValue(kargov1.SpecHashLabel, stack.Status.Services[0].SpecHash))
		g.Expect(stack.Status.Services[0].SpecHash).NotTo(Equal(swarm.Hash(swarm.Normalize(live.Spec))),
			"the spec hash is the plain hash of a spec holding the secret value")
	})
}

// TestManagerCachesNoSecretData: the manager watches the metadata of
// Secrets and ConfigMaps, and its cache holds none of their data: a list
// of Secrets or ConfigMaps through it fails (not cached).
func TestManagerCachesNoSecretData(t *testing.T) {
	f := newFixture(t)
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "unrelated", Namespace: f.namespace}, Data: map[string][]byte{"data": []byte("not for the manager")}})
	f.Create(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "unrelated", Namespace: f.namespace}, Data: map[string]string{"data": "not for the manager"}})
	for _, kind := range []string{"SecretList", "ConfigMapList"} {
		f.g.Eventually(func(g Gomega) {
			list := &metav1.PartialObjectMetadataList{}
			list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
			g.Expect(managerCache.List(f.ctx, list, client.InNamespace(f.namespace))).To(Succeed())
			g.Expect(testenv.Names(list)).To(ContainElement("unrelated"), "the manager watches %s metadata", kind)
		}, timeout, poll).Should(Succeed())
	}
	for _, list := range []client.ObjectList{&corev1.SecretList{}, &corev1.ConfigMapList{}} {
		err := managerCache.List(f.ctx, list, client.InNamespace(f.namespace))
		var notCached *cache.ErrResourceNotCached
		f.g.Expect(errors.As(err, &notCached)).To(BeTrue(), "%T through the manager's cache: want not cached, got %v (%d items)", list, err, len(testenv.Names(list)))
	}
}

// TestNamingKeyConflict: a Secret with the naming key's name that the Stack
// does not control is not taken as its key: the Stack stalls on a
// Conflict naming it, and the Secret is left as it was.
func TestNamingKeyConflict(t *testing.T) {
	f := newFixture(t)
	foreign := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "taken-kargo-names", Namespace: f.namespace},
		Data: map[string][]byte{desired.NamingKeyField: []byte("0123456789abcdef0123456789abcdef")}}
	f.Create(foreign)
	stack, _ := f.secretStack("taken", "value", true)
	f.Eventually(stack, func(g Gomega) {
		message := testenv.ExpectCondition(g, stack, kargov1.ReadyCondition, metav1.ConditionFalse, kargov1.ConflictReason)
		g.Expect(message).To(ContainSubstring("taken-kargo-names"))
		testenv.ExpectCondition(g, stack, kargov1.StalledCondition, metav1.ConditionTrue, kargov1.ConflictReason)
		g.Expect(f.ownedFiles(g, stack, swarm.KindSecret)).To(BeEmpty())
	})
	f.g.Expect(k8s.Get(f.ctx, client.ObjectKeyFromObject(foreign), foreign)).To(Succeed())
	f.g.Expect(foreign.OwnerReferences).To(BeEmpty())
}
