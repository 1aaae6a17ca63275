package controllers_test

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/freight"
	"github.com/kargo-io/kargo/internal/testenv"
	"github.com/kargo-io/kargo/internal/testregistry"
)

// push pushes a new image as ref and returns its digest.
func (f *fixture) push(reg *testregistry.Registry, ref string) string {
	f.t.Helper()
	digest, err := reg.Push(f.ctx, ref, testregistry.ImageOptions{})
	f.g.Expect(err).NotTo(HaveOccurred())
	return digest
}

// newWarehouse creates a Warehouse of one subscription, discovering every
// second, and removes it and the namespace's Freight and Stages when the
// test ends (before the fixture's cleanup: envtest deletes nothing in a
// deleted namespace).
func (f *fixture) newWarehouse(name string, sub kargov1.ImageSubscription) *kargov1.Warehouse {
	f.t.Helper()
	wh := &kargov1.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.namespace, Name: name},
		Spec: kargov1.WarehouseSpec{
			Subscriptions: []kargov1.ImageSubscription{sub},
			Interval:      metav1.Duration{Duration: time.Second},
		},
	}
	f.Create(wh)
	f.t.Cleanup(func() {
		g := NewWithT(f.t)
		g.Expect(client.IgnoreNotFound(k8s.Delete(f.ctx, wh))).To(Succeed())
		g.Eventually(func() bool {
			return apierrors.IsNotFound(k8s.Get(f.ctx, client.ObjectKeyFromObject(wh), &kargov1.Warehouse{}))
		},
			timeout, poll).Should(BeTrue(), "warehouse %s not deleted", name)
		for _, obj := range []client.Object{&kargov1.Freight{}, &kargov1.Stage{}} {
			g.Expect(k8s.DeleteAllOf(f.ctx, obj, client.InNamespace(f.namespace))).To(Succeed())
		}
	})
	return wh
}

// freightOf maps the names of a Warehouse's Freight to them.
func (f *fixture) freightOf(g Gomega, wh *kargov1.Warehouse) map[string]kargov1.Freight {
	var list kargov1.FreightList
	g.Expect(k8s.List(f.ctx, &list, client.InNamespace(f.namespace))).To(Succeed())
	out := map[string]kargov1.Freight{}
	for _, fr := range list.Items {
		if fr.Spec.Origin.Name == wh.Name {
			out[fr.Name] = fr
		}
	}
	return out
}

// discoveredTags lists the tags of status.discovered's first subscription.
func discoveredTags(wh *kargov1.Warehouse) []string {
	var tags []string
	if len(wh.Status.Discovered) > 0 {
		for _, img := range wh.Status.Discovered[0].Images {
			tags = append(tags, img.Tag)
		}
	}
	return tags
}

// TestWarehouseDiscovery: each push of a new version within the
// constraint makes one Freight within the interval (by digest, named by
// its hash, with an alias); a version outside the constraint or an
// ignored tag makes none.
func TestWarehouseDiscovery(t *testing.T) {
	f := newFixture(t)
	reg := testregistry.ForTest(t)
	repo := reg.Repo("app")
	d100 := f.push(reg, "app:1.0.0")
	wh := f.newWarehouse("app", kargov1.ImageSubscription{
		RepoURL: repo, ImageSelectionStrategy: kargov1.SemVerStrategy, SemverConstraint: "^1.0", IgnoreTags: `-debug$`,
	})

	image := func(tag, digest string) kargov1.FreightImage {
		return kargov1.FreightImage{RepoURL: repo, Tag: tag, Digest: digest}
	}
	// expectFreight asserts, in a wait, the Warehouse's Freight: those
	// made of want, and lastFreight the last of them.
	expectFreight := func(g Gomega, want ...kargov1.FreightImage) {
		all := f.freightOf(g, wh)
		g.Expect(all).To(HaveLen(len(want)))
		for _, img := range want {
			spec := kargov1.FreightSpec{Origin: kargov1.FreightOrigin{Kind: kargov1.WarehouseKind, Name: wh.Name}, Images: []kargov1.FreightImage{img}}
			fr, ok := all[freight.Name(spec)]
			g.Expect(ok).To(BeTrue(), "no Freight of %s", img.Tag)
			g.Expect(fr.Spec.Images).To(Equal(spec.Images))
			g.Expect(fr.Alias).NotTo(BeEmpty())
			g.Expect(fr.Labels).To(HaveKeyWithValue(kargov1.AliasLabel, fr.Alias))
			g.Expect(fr.OwnerReferences).To(BeEmpty(), "Freight outlives its Warehouse")
		}
		last := want[len(want)-1]
		g.Expect(wh.Status.LastFreight).To(Equal(freight.Name(kargov1.FreightSpec{Origin: kargov1.FreightOrigin{Name: wh.Name}, Images: []kargov1.FreightImage{last}})))
		g.Expect(testenv.ExpectReady(g, wh)).To(ContainSubstring(repo + ":" + last.Tag + "@sha256:"))
	}

	f.Eventually(wh, func(g Gomega) {
		expectFreight(g, image("1.0.0", d100))
		g.Expect(discoveredTags(wh)).To(Equal([]string{"1.0.0"}))
		g.Expect(wh.Status.Discovered[0].Images[0].Digest).To(Equal(d100))
		g.Expect(wh.Status.LastDiscoveryTime).NotTo(BeNil())
	})

	d101 := f.push(reg, "app:1.0.1")
	f.Eventually(wh, func(g Gomega) {
		expectFreight(g, image("1.0.0", d100), image("1.0.1", d101))
		g.Expect(discoveredTags(wh)).To(Equal([]string{"1.0.1", "1.0.0"}))
	})

	// Outside ^1.0, and ignored: discovered after the pushes, no Freight.
	f.push(reg, "app:2.0.0")
	f.push(reg, "app:1.0.2-debug")
	f.push(reg, "app:1.1.0-debug")
	pushed := time.Now()
	f.Eventually(wh, func(g Gomega) {
		g.Expect(wh.Status.LastDiscoveryTime.After(pushed)).To(BeTrue(), "no discovery since the pushes")
		expectFreight(g, image("1.0.0", d100), image("1.0.1", d101))
		g.Expect(discoveredTags(wh)).To(Equal([]string{"1.0.1", "1.0.0"}))
	})

	// Events are written asynchronously: waited for too.
	f.g.Eventually(func(g Gomega) {
		events := f.Events(f.g, wh)
		created := slices.DeleteFunc(slices.Clone(events), func(e string) bool { return !strings.HasPrefix(e, "Normal "+kargov1.FreightCreatedReason+": ") })
		g.Expect(created).To(HaveLen(2), "events: %v", events)
	}, timeout, poll).Should(Succeed())
	f.scrape(`kargo_freight_discovered_total{namespace="` + f.namespace + `",warehouse="app"} 2`)
}

// TestWarehouseDeletion: deleting a Warehouse deletes its Freight but the
// one a Stage holds (status.currentFreight), which stays.
func TestWarehouseDeletion(t *testing.T) {
	f := newFixture(t)
	reg := testregistry.ForTest(t)
	f.push(reg, "app:1.0.0")
	wh := f.newWarehouse("app", kargov1.ImageSubscription{RepoURL: reg.Repo("app")})
	var held string
	f.Eventually(wh, func(g Gomega) {
		testenv.ExpectReady(g, wh)
		held = wh.Status.LastFreight
		g.Expect(f.freightOf(g, wh)).To(HaveKey(held))
	})
	f.push(reg, "app:1.0.1")
	f.Eventually(wh, func(g Gomega) {
		g.Expect(wh.Status.LastFreight).NotTo(Equal(held))
		g.Expect(f.freightOf(g, wh)).To(HaveLen(2))
	})
	unheld := wh.Status.LastFreight

	stage := &kargov1.Stage{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.namespace, Name: "test"},
		Spec: kargov1.StageSpec{
			RequestedFreight: []kargov1.FreightRequest{{Origin: kargov1.FreightOrigin{Kind: kargov1.WarehouseKind, Name: wh.Name}, Sources: kargov1.FreightSources{Direct: true}}},
			Targets:          []kargov1.StageTarget{{Stack: "app"}},
		},
	}
	f.Create(stage)
	// The Stage reconciler writes the Stage too (finalizer, conditions):
	// retried on conflicts.
	f.g.Eventually(func() error {
		if err := k8s.Get(f.ctx, client.ObjectKeyFromObject(stage), stage); err != nil {
			return err
		}
		stage.Status.CurrentFreight = &kargov1.FreightReference{Name: held}
		return k8s.Status().Update(f.ctx, stage)
	}, timeout, poll).Should(Succeed())

	f.g.Expect(k8s.Delete(f.ctx, wh)).To(Succeed())
	f.g.Eventually(func(g Gomega) {
		g.Expect(apierrors.IsNotFound(k8s.Get(f.ctx, client.ObjectKeyFromObject(wh), wh))).To(BeTrue(), "warehouse still there")
		all := f.freightOf(g, wh)
		g.Expect(all).To(HaveKey(held))
		g.Expect(all).NotTo(HaveKey(unheld))
	}, timeout, poll).Should(Succeed())
	f.g.Eventually(func(g Gomega) {
		g.Expect(f.Events(f.g, wh)).To(ContainElement(And(ContainSubstring("deleted 1 Freight; kept 1 held by Stages"), ContainSubstring("(test)"))))
	}, timeout, poll).Should(Succeed())
}

// TestWarehouseNotReady: a repository without images, a bad regular
// expression and a missing pull Secret each say so in Ready; the Secret,
// once created, is used at once (its watch), and a registry asking for
// credentials answers with them.
func TestWarehouseNotReady(t *testing.T) {
	f := newFixture(t)
	reg := testregistry.ForTest(t, testregistry.WithBasicAuth("kargo", "pull-s3cret"))
	wh := f.newWarehouse("app", kargov1.ImageSubscription{RepoURL: reg.Repo("app")})
	f.waitMessage(wh, kargov1.DiscoveryFailedReason, "UNAUTHORIZED")

	f.Update(wh, func() { wh.Spec.PullSecretRef = &kargov1.LocalObjectReference{Name: "pull"} })
	f.waitMessage(wh, kargov1.SourceNotFoundReason, "spec.pullSecretRef: secret pull not found")

	auth := base64.StdEncoding.EncodeToString([]byte("kargo:pull-s3cret"))
	f.Create(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.namespace, Name: "pull"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths": {"` + reg.Host() + `": {"auth": "` + auth + `"}}}`)},
	})
	f.waitMessage(wh, kargov1.NoImagesReason, "spec.subscriptions[0]: no tag of "+reg.Repo("app")+" matches (SemVer)")

	f.push(reg, "app:1.0.0")
	f.waitReady(wh)

	f.Update(wh, func() { wh.Spec.Subscriptions[0].AllowTags = "^1.(" })
	f.waitMessage(wh, kargov1.InvalidSpecReason, "spec.subscriptions[0].allowTags: not a regular expression")
	f.Eventually(wh, func(g Gomega) {
		testenv.ExpectCondition(g, wh, kargov1.StalledCondition, metav1.ConditionTrue, kargov1.InvalidSpecReason)
	})
	for _, e := range f.Events(f.g, wh) {
		f.g.Expect(e).NotTo(ContainSubstring("pull-s3cret"))
	}
}
