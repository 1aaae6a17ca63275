package controllers_test

import (
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	dockerswarm "github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/volume"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/swarm"
	"github.com/kargo-io/kargo/internal/testenv"
)

// geoStack makes the sample stack of the quickstart: a database with a
// secret and a volume, a web front with a config on a host port, a worker.
func (f *fixture) geoStack(port int32) (*kargov1.Stack, []*kargov1.Service) {
	ns := f.namespace
	f.Create(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "site", Namespace: ns}, Data: map[string]string{"index.html": "hello from kargo"}})
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, Data: map[string][]byte{"password": []byte("s3cret")}})
	stack := &kargov1.Stack{
		ObjectMeta: metav1.ObjectMeta{Name: "geo", Namespace: ns},
		Spec: kargov1.StackSpec{
			EnvironmentRef: kargov1.EnvironmentReference{Name: "local"},
			Namespace:      ns,
			Networks:       []kargov1.Network{{Name: "front", Attachable: true}, {Name: "back"}},
			Configs:        []kargov1.StackConfig{{Name: "site", ConfigMapKeyRef: kargov1.KeySelector{Name: "site", Key: "index.html"}}},
			Secrets:        []kargov1.StackSecret{{Name: "db-password", SecretKeyRef: kargov1.KeySelector{Name: "db", Key: "password"}}},
			Timeout:        &metav1.Duration{Duration: scaled(time.Minute)},
		},
	}
	image := "kargo.local/busybox:1"
	services := []*kargov1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, Spec: kargov1.ServiceSpec{
			StackRef: kargov1.LocalObjectReference{Name: "geo"}, Image: image,
			Command:         []string{"sh", "-c", "test -s /run/secrets/db-password && exec sleep 3600"},
			Networks:        []kargov1.NetworkAttachment{{Name: "back", Aliases: []string{"database"}}},
			Secrets:         []kargov1.FileReference{{Name: "db-password"}},
			Mounts:          []kargov1.Mount{{Type: "volume", Source: "data", Target: "/data"}},
			StopGracePeriod: quick(),
		}},
		{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: kargov1.ServiceSpec{
			StackRef: kargov1.LocalObjectReference{Name: "geo"}, Image: image,
			Command:         []string{"httpd", "-f", "-p", "8080", "-h", "/www"},
			Env:             []kargov1.EnvVar{{Name: "MODE", Value: "demo"}},
			Ports:           []kargov1.Port{{Target: 8080, Published: port, Protocol: "tcp", Mode: "host"}},
			Networks:        []kargov1.NetworkAttachment{{Name: "front"}, {Name: "back"}},
			Configs:         []kargov1.FileReference{{Name: "site", Target: "/www/index.html"}},
			StopGracePeriod: quick(),
		}},
		{ObjectMeta: metav1.ObjectMeta{Name: "worker", Namespace: ns}, Spec: kargov1.ServiceSpec{
			StackRef: kargov1.LocalObjectReference{Name: "geo"}, Image: image,
			Command: []string{"sleep", "3600"}, Replicas: ptr.To[int64](2),
			Networks:        []kargov1.NetworkAttachment{{Name: "back"}},
			StopGracePeriod: quick(),
		}},
	}
	f.Create(stack)
	for _, svc := range services {
		f.Create(svc)
	}
	return stack, services
}

// TestStackLifecycle is the heart of Kargo: apply, no-op, change, secret
// rotation, prune and delete of a Stack on the local Swarm.
func TestStackLifecycle(t *testing.T) {
	f := newFixture(t)
	g := f.g
	stack, services := f.geoStack(18181)
	f.Eventually(stack, func(g Gomega) {
		testenv.ExpectReady(g, stack)
		g.Expect(stack.Status.ReadyServices).To(Equal("3/3"))
		g.Expect(stack.Status.Inventory).To(HaveLen(3 + 2 + 1 + 1))
	})
	for _, svc := range services {
		f.Eventually(svc, func(g Gomega) {
			testenv.ExpectReady(g, svc)
			g.Expect(svc.Status.Replicas).NotTo(BeEmpty())
		})
	}

	// Swarm objects with the right names, specs and labels.
	owner := f.namespace + "/geo"
	for _, name := range []string{"db", "web", "worker"} {
		svc := f.swarmService(name)
		g.Expect(svc.Spec.Labels).To(HaveKeyWithValue(kargov1.OwnerLabel, owner))
		g.Expect(svc.Spec.Labels).To(HaveKeyWithValue(kargov1.StackNamespaceLabel, f.namespace))
		g.Expect(svc.Spec.Labels).To(HaveKey(kargov1.SpecHashLabel))
	}
	g.Expect(*f.swarmService("worker").Spec.Mode.Replicated.Replicas).To(BeEquivalentTo(2))
	for _, name := range []string{"front", "back"} {
		n, err := docker.NetworkInspect(f.ctx, f.namespace+"_"+name, network.InspectOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(n.Driver).To(Equal("overlay"))
		g.Expect(n.Labels).To(HaveKeyWithValue(kargov1.OwnerLabel, owner))
	}
	ownerFilter := filters.NewArgs(filters.Arg("label", kargov1.OwnerLabel+"="+owner))
	secrets, err := docker.SecretList(f.ctx, dockerswarm.SecretListOptions{Filters: ownerFilter})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(secrets).To(HaveLen(1))
	oldSecret := secrets[0].Spec.Name
	configs, err := docker.ConfigList(f.ctx, dockerswarm.ConfigListOptions{Filters: ownerFilter})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(configs).To(HaveLen(1))
	g.Expect(string(configs[0].Spec.Data)).To(Equal("hello from kargo"))

	// Tasks really run: the web service serves the Swarm config on its host port.
	g.Eventually(func() (string, error) { return httpGet("http://127.0.0.1:18181/") }, timeout, poll).Should(Equal("hello from kargo"))

	// A reconcile with nothing changed makes no write call.
	engine := f.engine()
	writes := engine.Writes()
	f.requestReconcile(stack)
	f.requestReconcile(stack)
	g.Expect(engine.Writes()-writes).To(BeZero(), "write calls during no-op reconciles")
	t.Logf("two no-op reconciles: %d write calls", engine.Writes()-writes)

	// Change the web service's image env: only web is updated.
	versions := map[string]uint64{}
	for _, name := range []string{"db", "web", "worker"} {
		versions[name] = f.swarmService(name).Version.Index
	}
	web := services[1]
	f.Update(web, func() { web.Spec.Env[0].Value = "changed" })
	g.Eventually(func() []string { return f.swarmService("web").Spec.TaskTemplate.ContainerSpec.Env }, timeout, poll).Should(ContainElement("MODE=changed"))
	g.Expect(f.swarmService("db").Version.Index).To(Equal(versions["db"]), "db must not be updated")
	g.Expect(f.swarmService("worker").Version.Index).To(Equal(versions["worker"]), "worker must not be updated")

	// Change replicas.
	worker := services[2]
	f.Update(worker, func() { worker.Spec.Replicas = ptr.To[int64](1) })
	g.Eventually(func() uint64 { return *f.swarmService("worker").Spec.Mode.Replicated.Replicas }, timeout, poll).Should(BeEquivalentTo(1))

	// Rotate the secret: a new version, the service moved to it, the old one gone.
	secret := &corev1.Secret{}
	g.Expect(k8s.Get(f.ctx, client.ObjectKey{Namespace: f.namespace, Name: "db"}, secret)).To(Succeed())
	f.Update(secret, func() { secret.Data["password"] = []byte("rotated") })
	g.Eventually(func() string {
		refs := f.swarmService("db").Spec.TaskTemplate.ContainerSpec.Secrets
		if len(refs) != 1 {
			return ""
		}
		return refs[0].SecretName
	}, timeout, poll).ShouldNot(Equal(oldSecret))
	g.Eventually(func() ([]string, error) {
		list, err := docker.SecretList(f.ctx, dockerswarm.SecretListOptions{Filters: ownerFilter})
		names := []string{}
		for _, s := range list {
			names = append(names, s.Spec.Name)
		}
		return names, err
	}, timeout, poll).Should(SatisfyAll(HaveLen(1), Not(ContainElement(oldSecret))))
	f.waitStackReady(stack, 3)

	// Remove a Service: its swarm service is pruned, the others stay.
	g.Expect(k8s.Delete(f.ctx, worker)).To(Succeed())
	g.Eventually(func() bool {
		_, _, err := docker.ServiceInspectWithRaw(f.ctx, f.namespace+"_worker", dockerswarm.ServiceInspectOptions{})
		return err != nil
	}, timeout, poll).Should(BeTrue())
	f.waitStackReady(stack, 2)
	f.swarmService("db")

	// An object of the namespace that Kargo does not own stays through deletion.
	bystander := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "bystander", Namespace: f.namespace}}
	f.Create(bystander)

	// Delete the Stack: everything owned goes, the volume stays.
	g.Expect(k8s.Delete(f.ctx, stack)).To(Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(f.ctx, client.ObjectKeyFromObject(stack), stack))
	}, timeout, poll).Should(BeTrue(), "stack finalizer not removed")
	// The manager has removed them all; a node's own copy of an overlay
	// network can still be listed for a moment after (libnetwork removes
	// it once its last endpoint has left), so the listing is polled.
	g.Eventually(func() ([]string, error) {
		owned, err := engine.ListOwned(f.ctx, swarm.Claim{Namespace: f.namespace, Owner: owner})
		if err != nil {
			return nil, err
		}
		left := []string{}
		for _, s := range owned.Services {
			left = append(left, "service "+s.Spec.Name)
		}
		for _, n := range owned.Networks {
			left = append(left, "network "+n.Name+" ("+n.Scope+")")
		}
		for _, file := range owned.Files {
			left = append(left, file.Kind+" "+file.Name)
		}
		return left, nil
	}, 20*time.Second, poll).Should(BeEmpty(), "owned Swarm objects left after delete")
	vols, err := docker.VolumeList(f.ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("name", f.namespace+"_data"))})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(vols.Volumes).To(HaveLen(1), "the volume must survive the stack")
	g.Expect(k8s.Get(f.ctx, client.ObjectKeyFromObject(bystander), bystander)).To(Succeed())
}
