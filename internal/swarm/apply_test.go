package swarm_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	dockerswarm "github.com/docker/docker/api/types/swarm"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/swarm"
	"github.com/kargo-io/kargo/internal/testenv"
)

func connect(tb testing.TB) *swarm.Client {
	tb.Helper()
	host, err := testenv.DockerHost()
	if err != nil {
		tb.Fatal(err)
	}
	c, err := swarm.Connect(swarm.Endpoint{Host: host})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// fullService sets every field the converter handles.
func fullService(name string) *kargov1.Service {
	d := func(s string) *metav1.Duration { v, _ := time.ParseDuration(s); return &metav1.Duration{Duration: v} }
	mem := resource.MustParse("64Mi")
	return &kargov1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: kargov1.ServiceSpec{
			Image:   "kargo.local/busybox:1",
			Command: []string{"httpd"},
			Args:    []string{"-f", "-p", "8080", "-h", "/www"},
			Env: []kargov1.EnvVar{{Name: "MODE", Value: "demo"},
				{Name: "TOKEN", ValueFrom: &kargov1.EnvVarSource{SecretKeyRef: &kargov1.KeySelector{Name: "s", Key: "k"}}}},
			Mode:     "replicated",
			Replicas: ptr.To[int64](1),
			Ports:    []kargov1.Port{{Target: 8080, Published: 18099, Protocol: "tcp", Mode: "host"}},
			Networks: []kargov1.NetworkAttachment{{Name: "back", Aliases: []string{"www"}}},
			Mounts: []kargov1.Mount{
				{Type: "volume", Source: "data", Target: "/data"},
				{Type: "tmpfs", Target: "/cache", TmpfsOptions: &kargov1.TmpfsOptions{Size: &mem}},
			},
			Configs:         []kargov1.FileReference{{Name: "site", Target: "/www/index.html", Mode: ptr.To[int32](0o444)}},
			Secrets:         []kargov1.FileReference{{Name: "password"}},
			Placement:       &kargov1.Placement{Constraints: []string{"node.role==manager"}, Preferences: []kargov1.PlacementPreference{{Spread: "node.labels.zone"}}, MaxReplicasPerNode: ptr.To[int64](2)},
			Resources:       &kargov1.Resources{Limits: &kargov1.ResourceAmounts{CPUs: "0.5", Memory: &mem}, Reservations: &kargov1.ResourceAmounts{CPUs: "0.1"}},
			RestartPolicy:   &kargov1.RestartPolicy{Condition: "on-failure", MaxAttempts: ptr.To[int64](3), Delay: d("2s")},
			UpdateConfig:    &kargov1.UpdateConfig{Parallelism: ptr.To[int64](1), Delay: d("1s"), FailureAction: "rollback", Order: "start-first"},
			RollbackConfig:  &kargov1.UpdateConfig{Order: "stop-first"},
			Healthcheck:     &kargov1.Healthcheck{Test: []string{"CMD", "wget", "-q", "-O-", "http://127.0.0.1:8080/"}, Interval: d("5s"), Timeout: d("2s"), Retries: ptr.To[int64](3), StartPeriod: d("1s")},
			Labels:          map[string]string{"traefik.enable": "true"},
			ContainerLabels: map[string]string{"team": "maps"},
			Logging:         &kargov1.Logging{Driver: "json-file", Options: map[string]string{"max-size": "10m"}},
			Hostname:        "web",
			User:            "root",
			WorkingDir:      "/www",
			StopGracePeriod: d("1s"),
		},
	}
}

// TestServiceLifecycle creates a service with every field set on the local
// Swarm, checks that applying it again writes nothing, changes it, and
// removes everything it created.
func TestServiceLifecycle(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	c := connect(t)
	info, err := c.Ping(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(info.ClusterID).NotTo(BeEmpty())
	t.Logf("swarm %s: %d node(s), engine %s, API %s", info.ClusterID, info.Nodes, info.EngineVersion, info.APIVersion)

	ns := "test-" + utilrand.String(5)
	owner := "default/" + ns
	labels := map[string]string{kargov1.OwnerLabel: owner, kargov1.StackNamespaceLabel: ns}

	netID, change, err := c.EnsureNetwork(ctx, swarm.NetworkSpec{Name: swarm.ScopedName(ns, "back"), Attachable: true, Labels: labels}, owner, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(change).To(Equal(swarm.Created))
	site, _, err := c.EnsureFile(ctx, swarm.FileObject{Kind: swarm.KindConfig, Name: swarm.VersionedName(testKey, ns, "site", []byte("hi")), Data: []byte("hi"), Labels: labels}, owner, nil)
	g.Expect(err).NotTo(HaveOccurred())
	password, _, err := c.EnsureFile(ctx, swarm.FileObject{Kind: swarm.KindSecret, Name: swarm.VersionedName(testKey, ns, "password", []byte("pw")), Data: []byte("pw"), Labels: labels}, owner, nil)
	g.Expect(err).NotTo(HaveOccurred())

	objs := swarm.StackObjects{
		Namespace: ns, Owner: owner,
		Networks: map[string]string{"back": netID},
		Configs:  map[string]swarm.ObjectRef{"site": site},
		Secrets:  map[string]swarm.ObjectRef{"password": password},
		Env:      map[string]string{"TOKEN": "t0k3n"},
	}
	svc := fullService("web")
	spec, err := swarm.ServiceSpec(svc, objs)
	g.Expect(err).NotTo(HaveOccurred())
	res, err := c.ApplyService(ctx, spec, swarm.SpecHash(spec, nil, nil), owner, true, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Change).To(Equal(swarm.Created))
	t.Logf("created service %s (%s)", spec.Name, res.ID)

	// The reconciler's path: one listing, then nothing but reads of it.
	owned, err := c.ListOwned(ctx, swarm.Claim{Namespace: ns, Owner: owner})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(owned.Count()).To(Equal(4), "service, network, config, secret")
	writes := c.Writes()
	spec, _ = swarm.ServiceSpec(svc, objs)
	res, err = c.ApplyService(ctx, spec, swarm.SpecHash(spec, nil, nil), owner, true, owned)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Change).To(Equal(swarm.Unchanged), "a second apply of the same spec must not update (drift: %v)", res.Drift)
	g.Expect(c.Writes()-writes).To(BeZero(), "write calls on a no-op apply")

	_, change, err = c.EnsureNetwork(ctx, swarm.NetworkSpec{Name: swarm.ScopedName(ns, "back"), Attachable: true, Labels: labels}, owner, owned)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(change).To(Equal(swarm.Unchanged))
	g.Expect(c.Writes()-writes).To(BeZero(), "write calls on a no-op ensure")

	svc.Spec.Replicas = ptr.To[int64](2)
	spec, _ = swarm.ServiceSpec(svc, objs)
	res, err = c.ApplyService(ctx, spec, swarm.SpecHash(spec, nil, nil), owner, true, owned)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Change).To(Equal(swarm.Updated))
	g.Expect(res.Drift).To(BeEmpty(), "a change of the Service is not drift")

	owned, err = c.ListOwned(ctx, swarm.Claim{Namespace: ns, Owner: owner})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(owned.Services).To(HaveLen(1))
	g.Expect(*owned.Services[0].Spec.Mode.Replicated.Replicas).To(BeEquivalentTo(2))

	// Removal in Swarm's order; the network waits for the task to stop.
	var removed []string
	g.Eventually(func(g Gomega) {
		owned, err := c.ListOwned(ctx, swarm.Claim{Namespace: ns, Owner: owner})
		g.Expect(err).NotTo(HaveOccurred())
		_, err = c.RemoveOwned(ctx, owned, nil, func(kind, name string) { removed = append(removed, kind) })
		g.Expect(err).NotTo(HaveOccurred())
		owned, err = c.ListOwned(ctx, swarm.Claim{Namespace: ns, Owner: owner})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(owned.Count()).To(BeZero())
	}, 30*time.Second, 500*time.Millisecond).Should(Succeed())
	g.Expect(removed[0]).To(Equal(swarm.KindService), "services go first")
	g.Expect(removed).To(ContainElements(swarm.KindService, swarm.KindNetwork, swarm.KindConfig, swarm.KindSecret))
	t.Logf("removed service %s and its network, config and secret", spec.Name)
}

// TestConflictWithUnmanagedService leaves a service Kargo does not own alone.
func TestConflictWithUnmanagedService(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	c := connect(t)
	ns := "test-" + utilrand.String(5)
	foreign, err := swarm.ServiceSpec(&kargov1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db"}, Spec: kargov1.ServiceSpec{Image: "kargo.local/busybox:1", Command: []string{"sleep", "600"}, StopGracePeriod: &metav1.Duration{Duration: time.Second}}},
		swarm.StackObjects{Namespace: ns, Owner: "someone/else"})
	g.Expect(err).NotTo(HaveOccurred())
	delete(foreign.Labels, kargov1.OwnerLabel)
	res, err := c.ApplyService(ctx, foreign, swarm.SpecHash(foreign, nil, nil), "", true, nil)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() {
		_, _ = c.RemoveOwned(ctx, &swarm.Owned{Services: []dockerswarm.Service{{ID: res.ID}}}, nil, func(string, string) {})
	}()

	mine := foreign
	mine.Labels = map[string]string{kargov1.OwnerLabel: "default/" + ns}
	writes := c.Writes()
	_, err = c.ApplyService(ctx, mine, swarm.SpecHash(mine, nil, nil), "default/"+ns, true, nil)
	var conflict *swarm.ConflictError
	g.Expect(err).To(BeAssignableToTypeOf(conflict))
	g.Expect(err.Error()).To(ContainSubstring(fmt.Sprintf("service %s_db exists and is not managed by Kargo", ns)))
	g.Expect(c.Writes() - writes).To(BeZero())

	// From the owner's listing, where it is absent: the create is refused
	// and the service found to be someone else's.
	_, err = c.ApplyService(ctx, mine, swarm.SpecHash(mine, nil, nil), "default/"+ns, true, &swarm.Owned{})
	g.Expect(err).To(BeAssignableToTypeOf(conflict))
	live, found, err := c.InspectService(ctx, foreign.Name)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(found).To(BeTrue())
	g.Expect(live.Spec.Labels).NotTo(HaveKey(kargov1.OwnerLabel), "the foreign service was changed")
}

// TestExternalNetworkByExactName: an external network is found by its
// name only; an ID prefix that the engine's inspect would match is refused,
// naming the network it matched.
func TestExternalNetworkByExactName(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	c := connect(t)
	ns := "test-" + utilrand.String(5)
	owner := "default/" + ns
	name := swarm.ScopedName(ns, "shared")
	id, _, err := c.EnsureNetwork(ctx, swarm.NetworkSpec{Name: name, Attachable: true, Labels: map[string]string{kargov1.OwnerLabel: owner, kargov1.StackNamespaceLabel: ns}}, owner, nil)
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() {
		owned, err := c.ListOwned(ctx, swarm.Claim{Namespace: ns, Owner: owner})
		if err == nil {
			_, err = c.RemoveOwned(ctx, owned, nil, func(string, string) {})
		}
		if err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})

	got, err := c.ExternalNetwork(ctx, name)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal(id))
	_, err = c.ExternalNetwork(ctx, id[:12])
	g.Expect(err).To(MatchError(ContainSubstring("no network has that name")))
	g.Expect(err.Error()).To(ContainSubstring(name))
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }
