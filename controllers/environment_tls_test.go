package controllers_test

import (
	"os"
	"testing"
	"time"

	dockerswarm "github.com/docker/docker/api/types/swarm"
	dockerclient "github.com/docker/docker/client"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/testenv"
)

// TestTLSEndpoint: an Environment reaches a second dockerd, listening on
// tcp://127.0.0.1 with --tlsverify, through a TLS Secret and reports that
// daemon's own Swarm; a Secret whose CA did not sign the engine's
// certificate gives TLSError.
func TestTLSEndpoint(t *testing.T) {
	tlsSwarm := startTLSSwarm(t)
	f := newFixture(t) // its Environment is the shared swarm of hack/swarm.sh
	g := f.g
	var shared string
	f.Eventually(f.env, func(g Gomega) {
		testenv.ExpectReady(g, f.env)
		g.Expect(f.env.Status.Swarm).NotTo(BeNil())
		shared = f.env.Status.Swarm.ClusterID
	})

	tlsSecret := func(name string, ca []byte) { f.tlsSecret(name, tlsSwarm, ca) }
	tlsEnvironment := f.environment
	var created []*kargov1.Environment
	// Before the daemon stops (cleanups run last in, first out): delete the
	// Environments, so nothing reconciles against a stopped engine.
	t.Cleanup(func() {
		for _, env := range created {
			_ = k8s.Delete(f.ctx, env)
		}
		for _, env := range created {
			g.Eventually(func() bool {
				return apierrors.IsNotFound(k8s.Get(f.ctx, client.ObjectKeyFromObject(env), env))
			}, timeout, poll).Should(BeTrue(), "environment %s not deleted", env.Name)
		}
	})

	// The right CA: Ready, and the status is the second swarm's.
	tlsSecret("engine-tls", tlsSwarm.CA)
	env := tlsEnvironment("tls", kargov1.Endpoint{Host: tlsSwarm.Host, TLSSecretRef: &kargov1.LocalObjectReference{Name: "engine-tls"}})
	f.Create(env)
	created = append(created, env)
	f.Eventually(env, func(g Gomega) {
		testenv.ExpectReady(g, env)
		g.Expect(env.Status.Swarm).NotTo(BeNil())
		g.Expect(env.Status.Swarm.ClusterID).To(Equal(tlsSwarm.ClusterID))
		g.Expect(env.Status.Swarm.ClusterID).NotTo(Equal(shared), "the TLS endpoint reported the shared swarm")
		g.Expect(env.Status.Swarm.Managers).To(BeEquivalentTo(1))
	})
	t.Logf("Ready over TLS: cluster %s (shared swarm: %s), engine %s, API %s",
		env.Status.Swarm.ClusterID, shared, env.Status.Swarm.EngineVersion, env.Status.Swarm.APIVersion)

	// A CA that did not sign the engine's certificate: TLSError.
	otherCA, err := testenv.GenerateCA("kargo test CA that signed nothing")
	g.Expect(err).NotTo(HaveOccurred())
	tlsSecret("wrong-ca", otherCA)
	wrong := tlsEnvironment("wrong-ca", kargov1.Endpoint{Host: tlsSwarm.Host, TLSSecretRef: &kargov1.LocalObjectReference{Name: "wrong-ca"}})
	f.Create(wrong)
	created = append(created, wrong)
	var msg string
	f.Eventually(wrong, func(g Gomega) {
		msg = testenv.ExpectCondition(g, wrong, kargov1.ReadyCondition, metav1.ConditionFalse, kargov1.TLSErrorReason)
		g.Expect(msg).To(SatisfyAll(ContainSubstring(tlsSwarm.Host), ContainSubstring("certificate signed by unknown authority")))
	})
	t.Logf("wrong CA: %s", msg)

	// Plain HTTP to the TLS port (insecure: true) is a TLS error too.
	plain := tlsEnvironment("plain", kargov1.Endpoint{Host: tlsSwarm.Host, Insecure: true})
	f.Create(plain)
	created = append(created, plain)
	msg = f.waitCondition(plain, metav1.ConditionFalse, kargov1.TLSErrorReason)
	t.Logf("insecure against TLS: %s", msg)

	// tcp:// with neither tlsSecretRef nor insecure: the CRD's CEL rule on
	// Endpoint rejects it (api/v1alpha1); nothing reaches the controller.
	err = k8s.Create(f.ctx, tlsEnvironment("no-tls", kargov1.Endpoint{Host: tlsSwarm.Host}))
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want Invalid, got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("a tcp:// endpoint needs tlsSecretRef, or insecure: true"))
}

// TestNamespaceDeletionTLS: deleting the namespace of a TLS Environment
// does not deadlock. Its Secrets go at once, while the Stacks' finalizers
// still need the endpoint: they use the client they have. The namespace
// goes away and the Swarm service is removed.
func TestNamespaceDeletionTLS(t *testing.T) {
	tlsSwarm := startTLSSwarm(t)
	f := newFixture(t)
	f.tlsSecret("engine-tls", tlsSwarm, tlsSwarm.CA)
	f.env = f.environment("tls", kargov1.Endpoint{Host: tlsSwarm.Host, TLSSecretRef: &kargov1.LocalObjectReference{Name: "engine-tls"}})
	f.Create(f.env)
	f.waitReady(f.env)
	f.stackWith("app", sleeper("web"))
	name := f.namespace + "-app_web"
	// The TLS daemon has no image: the service exists, its tasks do not start.
	f.g.Eventually(func() error {
		_, _, err := tlsSwarm.Client().ServiceInspectWithRaw(f.ctx, name, dockerswarm.ServiceInspectOptions{})
		return err
	}, timeout, poll).Should(Succeed(), "service %s not created on the TLS swarm", name)

	start := time.Now()
	f.deleteNamespace()
	f.g.Eventually(func() bool {
		_, _, err := tlsSwarm.Client().ServiceInspectWithRaw(f.ctx, name, dockerswarm.ServiceInspectOptions{})
		return dockerclient.IsErrNotFound(err)
	}, timeout, poll).Should(BeTrue(), "service %s left on the TLS swarm", name)
	t.Logf("namespace deleted and its service removed from the TLS swarm in %s", time.Since(start).Round(time.Millisecond))
}

// startTLSSwarm starts a second dockerd (internal/testenv), stopped when
// the test ends, after the cleanups registered later.
func startTLSSwarm(t *testing.T) *testenv.Dockerd {
	t.Helper()
	// Short: containerd's unix sockets live under it (t.TempDir is too long).
	dir, err := os.MkdirTemp("/tmp", "ktls-")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	tlsSwarm, err := testenv.StartDockerd(dir, testenv.DockerdOptions{TLS: true})
	if err != nil {
		_ = os.RemoveAll(dir)
		t.Fatal(err)
	}
	t.Logf("TLS swarm %s (cluster %s) started in %s", tlsSwarm.Host, tlsSwarm.ClusterID, time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		start := time.Now()
		if err := tlsSwarm.Stop(); err != nil {
			t.Errorf("stop TLS swarm: %v", err)
		}
		t.Logf("TLS swarm stopped in %s", time.Since(start).Round(time.Millisecond))
	})
	return tlsSwarm
}

// tlsSecret creates a Secret with the TLS swarm's client certificate and ca.
func (f *fixture) tlsSecret(name string, tlsSwarm *testenv.Dockerd, ca []byte) {
	f.Create(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.namespace},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"ca.crt": ca, "tls.crt": tlsSwarm.ClientCert, "tls.key": tlsSwarm.ClientKey},
	})
}

// environment is an Environment of the test namespace (not created).
func (f *fixture) environment(name string, endpoint kargov1.Endpoint) *kargov1.Environment {
	return &kargov1.Environment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.namespace},
		Spec:       kargov1.EnvironmentSpec{Endpoint: endpoint},
	}
}
