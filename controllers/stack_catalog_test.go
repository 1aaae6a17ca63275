package controllers_test

import (
	"testing"

	"github.com/docker/docker/api/types/volume"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/overlay"
)

// busyboxPatch makes every picked catalog entry run on the local busybox
// image: a command that turns healthy at once, fast health checks and stops.
const busyboxPatch = `
- op: add
  path: /spec/command
  value: [sh, -c, "touch /tmp/ok; exec sleep 3600"]
- op: replace
  path: /spec/healthcheck
  value: {test: [CMD, test, -f, /tmp/ok], interval: 1s, timeout: 1s, retries: 2}
- op: replace
  path: /spec/stopGracePeriod
  value: 1s
`

// TestCatalogStack: a Stack picking three catalog entries, their images
// overridden to the local busybox and a patch over them, renders Services it
// owns, deploys them with a hand-written Service beside them, and reaches
// Ready. Changing a variable in the Environment's .env ConfigMap rolls only
// the service that uses it.
func TestCatalogStack(t *testing.T) {
	f := newFixture(t)
	node, _ := f.nodeLabels()
	dotenv := "# the old tool's environment file\nDOMAIN=example.org\nSUBDOMAIN=kargo.$DOMAIN\nAUTH_USER=admin\nAUTH_PASSWORD=hashed\n"
	f.Create(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kargo-dotenv", Namespace: f.namespace}, Data: map[string]string{".env": dotenv}})
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "grafana", Namespace: f.namespace}, Data: map[string][]byte{"password": []byte("s3cret")}})
	f.Update(f.env, func() {
		f.env.Spec.VariablesFrom = []kargov1.VariablesSource{{ConfigMapRef: &kargov1.VariablesReference{Name: "kargo-dotenv", Key: ".env"}}}
		// mongodb's default placement wants node.labels.mongodb==true.
		f.env.Spec.NodeLabels = []kargov1.NodeLabels{{Hostname: node.Description.Hostname, Labels: map[string]string{"mongodb": "true"}}}
		f.env.Spec.Defaults = &kargov1.ServiceDefaults{ContainerLabels: map[string]string{"team": "geo"}}
	})

	ns := f.namespace + "-cat"
	stack := &kargov1.Stack{
		ObjectMeta: metav1.ObjectMeta{Name: "cat", Namespace: f.namespace},
		Spec: kargov1.StackSpec{
			EnvironmentRef: kargov1.EnvironmentReference{Name: f.env.Name},
			Namespace:      ns,
			Services:       []kargov1.CatalogService{{Name: "mongodb"}, {Name: "cache", Catalog: "redis"}, {Name: "grafana"}},
			Images: []kargov1.Image{
				{Name: "mongo", NewName: "kargo.local/busybox", NewTag: "1"},
				{Name: "redis", NewName: "kargo.local/busybox", NewTag: "1"},
				{Name: "grafana/grafana", NewName: "kargo.local/busybox", NewTag: "1"},
			},
			Patches:  []kargov1.Patch{{Target: &kargov1.PatchTarget{Kind: "Service", LabelSelector: "app.kubernetes.io/part-of=kargo-catalog"}, Patch: busyboxPatch}},
			Networks: []kargov1.Network{{Name: "front"}, {Name: "back"}},
			Secrets:  []kargov1.StackSecret{{Name: "grafana-admin-password", SecretKeyRef: kargov1.KeySelector{Name: "grafana", Key: "password"}}},
		},
	}
	f.Create(stack)
	worker := sleeper("worker")
	worker.Namespace, worker.Spec.StackRef.Name = f.namespace, "cat"
	f.Create(worker)
	f.waitStackReady(stack, 4)

	// The merged configuration is visible as Services owned by the Stack.
	rendered := &kargov1.Service{}
	f.g.Expect(k8s.Get(f.ctx, client.ObjectKey{Namespace: f.namespace, Name: "cache"}, rendered)).To(Succeed())
	f.g.Expect(rendered.Labels).To(HaveKeyWithValue(kargov1.StackLabel, "cat"))
	f.g.Expect(rendered.Labels).To(HaveKeyWithValue(overlay.CatalogLabel, "redis"))
	f.g.Expect(metav1.IsControlledBy(rendered, stack)).To(BeTrue())
	f.g.Expect(rendered.Spec.Image).To(Equal("kargo.local/busybox:1"))

	live := f.swarmServiceIn("cat", "grafana")
	f.g.Expect(live.Spec.TaskTemplate.ContainerSpec.Env).To(ContainElement("GF_SERVER_ROOT_URL=https://grafana.kargo.example.org"))
	f.g.Expect(live.Spec.TaskTemplate.ContainerSpec.Labels).To(HaveKeyWithValue("team", "geo"))
	// The Environment's defaults are the lowest layer of hand-written Services too.
	f.g.Expect(f.swarmServiceIn("cat", "worker").Spec.TaskTemplate.ContainerSpec.Labels).To(HaveKeyWithValue("team", "geo"))
	f.g.Expect(live.Spec.TaskTemplate.ContainerSpec.Configs).NotTo(BeEmpty(), "grafana's default datasources file is not mounted")
	before := map[string]uint64{}
	for _, name := range []string{"mongodb", "cache", "grafana", "worker"} {
		before[name] = f.swarmServiceIn("cat", name).Version.Index
	}

	// A variable changes in the .env ConfigMap: only grafana uses SUBDOMAIN.
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kargo-dotenv", Namespace: f.namespace}}
	f.Update(cm, func() {
		cm.Data[".env"] = "DOMAIN=example.org\nSUBDOMAIN=maps.$DOMAIN\nAUTH_USER=admin\nAUTH_PASSWORD=hashed\n"
	})
	f.g.Eventually(func() []string {
		return f.swarmServiceIn("cat", "grafana").Spec.TaskTemplate.ContainerSpec.Env
	}, timeout, poll).Should(ContainElement("GF_SERVER_ROOT_URL=https://grafana.maps.example.org"))
	f.waitStackReady(stack, 4)
	for _, name := range []string{"mongodb", "cache", "worker"} {
		f.g.Expect(f.swarmServiceIn("cat", name).Version.Index).To(Equal(before[name]), "%s was updated though it does not use SUBDOMAIN", name)
	}

	// Dropping an entry deletes its Service and its Swarm service.
	f.Update(stack, func() { stack.Spec.Services, stack.Spec.Images = stack.Spec.Services[:2], stack.Spec.Images[:2] })
	f.g.Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(f.ctx, client.ObjectKey{Namespace: f.namespace, Name: "grafana"}, &kargov1.Service{}))
	}, timeout, poll).Should(BeTrue(), "grafana's Service was not deleted")
	f.g.Eventually(func() int { return f.stackServices(ns) }, timeout, poll).Should(Equal(3))
	f.waitStackReady(stack, 3)
	vols, err := docker.VolumeList(f.ctx, volume.ListOptions{})
	f.g.Expect(err).NotTo(HaveOccurred())
	f.g.Expect(vols.Volumes).To(ContainElement(HaveField("Name", ns+"_grafana_data")), "a volume was removed")
}

// TestCatalogRenderFailureKeepsLastGoodState: render errors (a variable
// without value, a merged Service the API server refuses, an unknown entry)
// are reported as RenderFailed naming their cause, and what runs is left as
// it is.
func TestCatalogRenderFailureKeepsLastGoodState(t *testing.T) {
	f := newFixture(t)
	stack := &kargov1.Stack{
		ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: f.namespace},
		Spec: kargov1.StackSpec{
			EnvironmentRef: kargov1.EnvironmentReference{Name: f.env.Name},
			Namespace:      f.namespace + "-bad",
			Services:       []kargov1.CatalogService{{Name: "cache", Catalog: "redis"}},
			Images:         []kargov1.Image{{Name: "redis", NewName: "kargo.local/busybox", NewTag: "1"}},
			Patches:        []kargov1.Patch{{Target: &kargov1.PatchTarget{Kind: "Service", Name: "cache"}, Patch: busyboxPatch}},
			Networks:       []kargov1.Network{{Name: "back"}},
		},
	}
	f.Create(stack)
	f.waitStackReady(stack, 1)
	version := f.swarmServiceIn("bad", "cache").Version.Index

	f.Update(stack, func() {
		stack.Spec.Patches = append(stack.Spec.Patches, kargov1.Patch{
			Target: &kargov1.PatchTarget{Kind: "Service", Name: "cache"},
			Patch:  "- {op: add, path: /spec/env, value: [{name: URL, value: 'https://${PUBLIC_HOST}/'}]}",
		})
	})
	f.waitMessage(stack, kargov1.RenderFailedReason, "service cache: spec.env[0].value: variable PUBLIC_HOST is not set")
	f.g.Expect(f.swarmServiceIn("bad", "cache").Version.Index).To(Equal(version), "the running service changed after a failed render")

	// A merged Service the API server refuses is a render failure too.
	f.Update(stack, func() {
		stack.Spec.Patches[1].Patch = "- {op: add, path: /spec/env, value: [{name: MODE, value: a}, {name: MODE, value: b}]}"
	})
	f.waitMessage(stack, kargov1.RenderFailedReason, `spec.env[1]: Duplicate value: {"name":"MODE"}`)
	f.g.Expect(f.swarmServiceIn("bad", "cache").Version.Index).To(Equal(version))

	f.Update(stack, func() {
		stack.Spec.Services = append(stack.Spec.Services, kargov1.CatalogService{Name: "geo", Catalog: "no-such-entry"})
	})
	f.waitMessage(stack, kargov1.RenderFailedReason, `spec.services[1].catalog: no catalog entry "no-such-entry"`)
	f.g.Expect(f.swarmServiceIn("bad", "cache").Version.Index).To(Equal(version))
}
