package controllers_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/swarm"
	"github.com/kargo-io/kargo/internal/testenv"
)

// Every wait of the suite is bounded by timeout. The default fits a 2-core
// machine kept busy by other work; KARGO_TEST_TIMEOUT_SCALE multiplies it
// (and the Stack timeouts the tests set) on slower machines.
var (
	timeoutScale = scaleFromEnv()
	timeout      = scaled(2 * time.Minute)
)

const poll = 250 * time.Millisecond

func scaleFromEnv() float64 {
	v := os.Getenv("KARGO_TEST_TIMEOUT_SCALE")
	if v == "" {
		return 1
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 {
		panic(fmt.Sprintf("KARGO_TEST_TIMEOUT_SCALE=%q: want a positive number", v))
	}
	return f
}

// scaled is d stretched by KARGO_TEST_TIMEOUT_SCALE.
func scaled(d time.Duration) time.Duration { return time.Duration(float64(d) * timeoutScale) }

// fixture is one test's namespace (testenv.Namespace: its cleanup deletes
// the Kargo objects in the order their finalizers need), its Environment
// "local" on the local Swarm, and helpers. The cleanup also removes the
// volumes of the namespace's stacks, which outlive their Stacks by design.
type fixture struct {
	*testenv.Namespace
	t         *testing.T
	g         *WithT
	ctx       context.Context
	namespace string
	env       *kargov1.Environment
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ns := testenv.NewNamespace(t, k8s, "t-", timeout, poll)
	f := &fixture{Namespace: ns, t: t, g: NewWithT(t), ctx: ns.Ctx, namespace: ns.Name}
	ns.RemoveVolumesAfterDelete(docker)
	f.env = &kargov1.Environment{
		ObjectMeta: metav1.ObjectMeta{Name: "local", Namespace: f.namespace},
		Spec:       kargov1.EnvironmentSpec{Endpoint: kargov1.Endpoint{Host: dockerHost}},
	}
	f.Create(f.env)
	f.waitReady(f.env)
	return f
}

// deleteNamespace deletes the test namespace as the namespace controller
// would (envtest does not run it; this stands in for it): the Namespace,
// then every object in it at once, Secrets first; once no Stack or
// Environment is left (their finalizers are done), it finalizes the
// Namespace, which then goes away.
func (f *fixture) deleteNamespace() {
	f.t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: f.namespace}}
	f.g.Expect(k8s.Delete(f.ctx, ns)).To(Succeed())
	for _, obj := range []client.Object{&corev1.Secret{}, &corev1.ConfigMap{}, &kargov1.Service{}, &kargov1.Stack{}, &kargov1.Environment{}} {
		f.g.Expect(k8s.DeleteAllOf(f.ctx, obj, client.InNamespace(f.namespace))).To(Succeed())
	}
	for _, list := range []client.ObjectList{&kargov1.StackList{}, &kargov1.EnvironmentList{}} {
		f.WaitDeleted(f.g, list, "left in the deleted namespace")
	}
	f.g.Expect(k8s.Get(f.ctx, client.ObjectKeyFromObject(ns), ns)).To(Succeed())
	ns.Spec.Finalizers = nil
	f.g.Expect(k8s.SubResource("finalize").Update(f.ctx, ns)).To(Succeed())
	f.g.Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(f.ctx, client.ObjectKeyFromObject(ns), ns))
	}, timeout, poll).Should(BeTrue(), "namespace %s not deleted", f.namespace)
}

// waitCondition waits until obj's Ready condition has the status and reason, and returns its message.
func (f *fixture) waitCondition(obj client.Object, status metav1.ConditionStatus, reason string) string {
	f.t.Helper()
	var message string
	f.Eventually(obj, func(g Gomega) { message = testenv.ExpectCondition(g, obj, kargov1.ReadyCondition, status, reason) })
	return message
}

// waitMessage waits until obj is not Ready for reason with a message
// containing part: a condition that replaces an earlier one of the same reason.
func (f *fixture) waitMessage(obj client.Object, reason, part string) {
	f.t.Helper()
	f.Eventually(obj, func(g Gomega) {
		g.Expect(testenv.ExpectCondition(g, obj, kargov1.ReadyCondition, metav1.ConditionFalse, reason)).To(ContainSubstring(part))
	})
}

func (f *fixture) waitReady(obj client.Object) {
	f.t.Helper()
	f.Eventually(obj, func(g Gomega) { testenv.ExpectReady(g, obj) })
}

// waitStackReady waits until the Stack is Ready with every one of its
// services counted (ReadyServices "n/n").
func (f *fixture) waitStackReady(stack *kargov1.Stack, services int) {
	f.t.Helper()
	f.Eventually(stack, func(g Gomega) {
		testenv.ExpectReady(g, stack)
		g.Expect(stack.Status.ReadyServices).To(Equal(fmt.Sprintf("%d/%d", services, services)))
	})
}

// requestReconcile asks for a reconcile of the Stack and waits until it was handled.
func (f *fixture) requestReconcile(stack *kargov1.Stack) {
	f.t.Helper()
	token := time.Now().Format(time.RFC3339Nano)
	f.Update(stack, func() {
		if stack.Annotations == nil {
			stack.Annotations = map[string]string{}
		}
		stack.Annotations[kargov1.ReconcileRequestAnnotation] = token
	})
	f.Eventually(stack, func(g Gomega) { g.Expect(stack.Status.LastHandledReconcileAt).To(Equal(token)) })
}

func (f *fixture) engine() *swarm.Client {
	cli, ok := engines.Get(types.NamespacedName{Namespace: f.namespace, Name: f.env.Name})
	f.g.Expect(ok).To(BeTrue(), "no engine client cached for the environment")
	return cli
}

// k8sDelete deletes a Stack and waits until its finalizer has cleaned up.
func k8sDelete(f *fixture, stack *kargov1.Stack) error {
	if err := k8s.Delete(f.ctx, stack); err != nil {
		return err
	}
	f.g.Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(f.ctx, client.ObjectKeyFromObject(stack), stack))
	}, timeout, poll).Should(BeTrue(), "stack %s not deleted", stack.Name)
	return nil
}

func quick() *metav1.Duration { return &metav1.Duration{Duration: time.Second} }

// stackWith creates a Stack (newStack) and its Services.
func (f *fixture) stackWith(name string, services ...*kargov1.Service) *kargov1.Stack {
	return f.createStack(f.newStack(name), services...)
}

// newStack is a Stack of the test's Environment with the Swarm namespace
// <test namespace>-<name> and one network "back", not created yet.
func (f *fixture) newStack(name string) *kargov1.Stack {
	return &kargov1.Stack{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.namespace},
		Spec: kargov1.StackSpec{
			EnvironmentRef: kargov1.EnvironmentReference{Name: f.env.Name},
			Namespace:      f.namespace + "-" + name,
			Networks:       []kargov1.Network{{Name: "back"}},
		},
	}
}

// createStack creates the Stack and its Services.
func (f *fixture) createStack(stack *kargov1.Stack, services ...*kargov1.Service) *kargov1.Stack {
	f.Create(stack)
	for _, svc := range services {
		svc.Namespace = f.namespace
		svc.Spec.StackRef.Name = stack.Name
		f.Create(svc)
	}
	return stack
}

func sleeper(name string) *kargov1.Service {
	return &kargov1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: kargov1.ServiceSpec{
		Image: "kargo.local/busybox:1", Command: []string{"sleep", "3600"}, StopGracePeriod: quick(),
		Networks: []kargov1.NetworkAttachment{{Name: "back"}},
	}}
}

// withHealth gives a service a health check that passes once the file
// exists, checked every second, failures counting after 20s.
func withHealth(svc *kargov1.Service, file string) *kargov1.Service {
	svc.Spec.Healthcheck = &kargov1.Healthcheck{
		Test:     []string{"CMD", "test", "-f", file},
		Interval: quick(), Timeout: quick(), Retries: ptr.To[int64](1),
		StartPeriod: &metav1.Duration{Duration: 20 * time.Second},
	}
	return svc
}
