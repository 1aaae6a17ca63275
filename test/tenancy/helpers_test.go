package tenancy

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/testenv"
)

// Nothing the tests wait for starts a task: two minutes is plenty even on
// a busy machine.
const (
	timeout = 2 * time.Minute
	poll    = 250 * time.Millisecond
)

// fixture is one test's namespace (testenv.Namespace: its cleanup deletes
// its Stacks, then its Environments, each waiting for the finalizers, then
// the namespace).
type fixture struct {
	*testenv.Namespace
	t         *testing.T
	g         *WithT
	ctx       context.Context
	namespace string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ns := testenv.NewNamespace(t, k8s, namespacePrefix, timeout, poll)
	return &fixture{Namespace: ns, t: t, g: NewWithT(t), ctx: ns.Ctx, namespace: ns.Name}
}

// environment creates an Environment of the test namespace.
func (f *fixture) environment(name string, endpoint kargov1.Endpoint) *kargov1.Environment {
	env := &kargov1.Environment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.namespace},
		Spec:       kargov1.EnvironmentSpec{Endpoint: endpoint},
	}
	f.Create(env)
	return env
}

// tlsSecret creates the TLS Secret "engine-tls" of a client certificate
// (no engine trusts its CA, but a client is built from it and dials).
func (f *fixture) tlsSecret() *kargov1.LocalObjectReference {
	f.t.Helper()
	ca, cert, key, err := testenv.GenerateClientTLS("kargo tenancy test")
	f.g.Expect(err).NotTo(HaveOccurred())
	f.Create(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "engine-tls", Namespace: f.namespace},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"ca.crt": ca, "tls.crt": cert, "tls.key": key},
	})
	return &kargov1.LocalObjectReference{Name: "engine-tls"}
}

// stack creates a Stack without services on an Environment.
func (f *fixture) stack(name string, env *kargov1.Environment) *kargov1.Stack {
	stack := &kargov1.Stack{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.namespace},
		Spec:       kargov1.StackSpec{EnvironmentRef: kargov1.EnvironmentReference{Name: env.Name}},
	}
	f.Create(stack)
	return stack
}

// expectRefused waits until the manager refuses env: Ready=False and
// Stalled with reason and a message naming its endpoint and why (the flag),
// the same in a Warning event; the Stack using it reports the Environment
// not Ready with that message. Then it deletes the Stack (deleteUnreachable).
func (f *fixture) expectRefused(env *kargov1.Environment, stack *kargov1.Stack, reason, why string) {
	f.t.Helper()
	var message string
	f.Eventually(env, func(g Gomega) {
		message = testenv.ExpectCondition(g, env, kargov1.ReadyCondition, metav1.ConditionFalse, reason)
		g.Expect(testenv.ExpectCondition(g, env, kargov1.StalledCondition, metav1.ConditionTrue, reason)).To(Equal(message))
		g.Expect(message).To(SatisfyAll(ContainSubstring(env.Spec.Endpoint.Host), ContainSubstring(why)))
		g.Expect(f.Events(g, env)).To(ContainElement("Warning " + reason + ": " + message))
	})
	f.Eventually(stack, func(g Gomega) {
		g.Expect(testenv.ExpectCondition(g, stack, kargov1.ReadyCondition, metav1.ConditionFalse, kargov1.EnvironmentNotReadyReason)).
			To(Equal("environment " + env.Name + " is not Ready: " + message))
	})
	f.deleteUnreachable(stack)
}

// deleteUnreachable deletes a Stack whose Environment the manager may not
// reach: it waits until the manager handled the deletion (Ready=False,
// Deleting) and kept the finalizer (what the Stack owns on that Swarm
// cannot be removed), then removes the finalizer itself.
func (f *fixture) deleteUnreachable(stack *kargov1.Stack) {
	f.t.Helper()
	f.g.Expect(k8s.Delete(f.ctx, stack)).To(Succeed())
	f.Eventually(stack, func(g Gomega) {
		testenv.ExpectCondition(g, stack, kargov1.ReadyCondition, metav1.ConditionFalse, kargov1.DeletingReason)
		g.Expect(stack.Finalizers).To(ContainElement(kargov1.Finalizer))
	})
	f.g.Eventually(func() error {
		if err := k8s.Get(f.ctx, client.ObjectKeyFromObject(stack), stack); err != nil {
			return err
		}
		stack.Finalizers = nil
		return k8s.Update(f.ctx, stack)
	}, timeout, poll).Should(Succeed())
	f.g.Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(f.ctx, client.ObjectKeyFromObject(stack), stack))
	}, timeout, poll).Should(BeTrue())
}

// countingListener is an endpoint that counts the TCP connections made to
// it and closes each at once: a manager that connects shows up here
// whatever it sends.
type countingListener struct {
	listener net.Listener
	accepted atomic.Int64
}

// listen starts a countingListener on ip (any free port), stopped when the
// test ends.
func listen(t *testing.T, ip string) *countingListener {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	c := &countingListener{listener: l}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			c.accepted.Add(1)
			_ = conn.Close()
		}
	}()
	t.Cleanup(func() { _ = l.Close() })
	return c
}

// host is the listener as an Environment's endpoint.
func (c *countingListener) host() string { return "tcp://" + c.listener.Addr().String() }
