package controllers_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// TestOneListingPerKind counts, with the Engine client's request metrics
// and the Stack's reconcile histogram, what a reconcile of a
// converged Stack (three services, a network, a config, a secret) asks the
// Swarm: one list per kind (tasks included), no inspect of any object, no
// write.
func TestOneListingPerKind(t *testing.T) {
	f := newFixture(t)
	f.slowResync()
	f.Create(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "site", Namespace: f.namespace}, Data: map[string]string{"index.html": "hi"}})
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: f.namespace}, Data: map[string][]byte{"password": []byte("pw")}})
	stack := &kargov1.Stack{
		ObjectMeta: metav1.ObjectMeta{Name: "lists", Namespace: f.namespace},
		Spec: kargov1.StackSpec{
			EnvironmentRef: kargov1.EnvironmentReference{Name: f.env.Name},
			Namespace:      f.namespace + "-lists",
			Networks:       []kargov1.Network{{Name: "back"}},
			Configs:        []kargov1.StackConfig{{Name: "site", ConfigMapKeyRef: kargov1.KeySelector{Name: "site", Key: "index.html"}}},
			Secrets:        []kargov1.StackSecret{{Name: "db", SecretKeyRef: kargov1.KeySelector{Name: "db", Key: "password"}}},
		},
	}
	f.Create(stack)
	for _, name := range []string{"a", "b", "c"} {
		svc := sleeper(name)
		svc.Namespace, svc.Spec.StackRef.Name = f.namespace, stack.Name
		svc.Spec.Configs = []kargov1.FileReference{{Name: "site", Target: "/www/index.html"}}
		svc.Spec.Secrets = []kargov1.FileReference{{Name: "db"}}
		f.Create(svc)
	}
	f.waitStackReady(stack, 3)

	lists := []string{"GET /services", "GET /tasks", "GET /networks", "GET /configs", "GET /secrets"}
	others := []string{"GET /services/{id}", "GET /networks/{id}", "GET /configs/{id}", "GET /secrets/{id}"}
	reconciles := func() float64 { return f.reconciles(stack) }
	reconcilesBefore := f.waitQuiet(stack)
	before := map[string]float64{}
	for _, op := range append(lists, others...) {
		before[op] = engineRequests(f, op)
	}
	writes := f.engine().Writes()
	f.requestReconcile(stack)
	f.waitStackReady(stack, 3)

	// Once the reconciles it caused are done (a status change may cause
	// another), each made one list per kind and nothing else.
	f.g.Eventually(func(g Gomega) {
		n := reconciles() - reconcilesBefore
		g.Expect(n).To(BeNumerically(">=", 1))
		for _, op := range lists {
			g.Expect(engineRequests(f, op)-before[op]).To(Equal(n), "%s requests in %v reconciles", op, n)
		}
	}, timeout, poll).Should(Succeed())
	for _, op := range others {
		f.g.Expect(engineRequests(f, op)-before[op]).To(BeZero(), "%s requests", op)
	}
	f.g.Expect(f.engine().Writes()).To(Equal(writes), "writes in reconciles that change nothing")
}

// TestServiceStatusDoesNotWakeItsStack: a Service's status is its Stack's
// observation copied back; writing it must not reconcile the Stack again
// (with a thousand Services, each Stack pass woke the Stack once per
// Service whose status it changed).
func TestServiceStatusDoesNotWakeItsStack(t *testing.T) {
	f := newFixture(t)
	f.slowResync()
	api := sleeper("api")
	stack := f.stackWith("quiet", api, sleeper("worker"))
	f.waitStackReady(stack, 2)
	before := f.waitQuiet(stack)

	// A status write of the Service, which the Service reconciler then
	// sets back to what the Stack observed: two status-only changes.
	f.g.Expect(k8s.Get(f.ctx, client.ObjectKeyFromObject(api), api)).To(Succeed())
	patch := client.MergeFrom(api.DeepCopy())
	api.Status.Replicas = "9/9"
	f.g.Expect(k8s.Status().Patch(f.ctx, api, patch)).To(Succeed())
	f.Eventually(api, func(g Gomega) { g.Expect(api.Status.Replicas).To(Equal("1/1")) })
	time.Sleep(3 * time.Second)
	f.g.Expect(f.reconciles(stack)).To(Equal(before), "the Service's status changes reconciled its Stack")

	// A change of the Service's spec does.
	f.Update(api, func() { api.Spec.Env = []kargov1.EnvVar{{Name: "MODE", Value: "quiet"}} })
	f.g.Eventually(func() float64 { return f.reconciles(stack) }, timeout, poll).Should(BeNumerically(">", before))
	f.waitStackReady(stack, 2)
}

// reconciles counts the reconciles of a Stack (per Stack: other tests'
// Stacks may be reconciled meanwhile).
func (f *fixture) reconciles(stack *kargov1.Stack) float64 {
	return metricSum(f, "kargo_stack_reconcile_duration_seconds", map[string]string{"namespace": f.namespace, "stack": stack.Name})
}

// waitQuiet waits until the Stack goes 3 s without a reconcile and returns
// the count of its reconciles then: a Ready Stack polls every second for a
// while after it converged, then waits for its interval.
func (f *fixture) waitQuiet(stack *kargov1.Stack) float64 {
	f.t.Helper()
	var count float64
	f.g.Eventually(func() bool {
		count = f.reconciles(stack)
		time.Sleep(3 * time.Second)
		return f.reconciles(stack) == count
	}, timeout, poll).Should(BeTrue(), "the Stack kept being reconciled")
	return count
}
