package controllers_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/volume"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
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

// fixture is one test's namespace, Environment and helpers. What a test
// creates in its namespace is removed when it ends: Stacks (their
// finalizers clean the Swarm), then Environments (and their node labels),
// then the volumes of the namespace's stacks, then the namespace.
type fixture struct {
	t         *testing.T
	g         *WithT
	ctx       context.Context
	namespace string
	env       *kargov1.Environment
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, g: NewWithT(t), ctx: context.Background(), namespace: "t-" + utilrand.String(6)}
	f.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: f.namespace}})
	t.Cleanup(f.cleanup)
	f.env = &kargov1.Environment{
		ObjectMeta: metav1.ObjectMeta{Name: "local", Namespace: f.namespace},
		Spec:       kargov1.EnvironmentSpec{Endpoint: kargov1.Endpoint{Host: dockerHost}},
	}
	f.create(f.env)
	f.waitReady(f.env)
	return f
}

// cleanup deletes what the test made, in the order the finalizers need.
func (f *fixture) cleanup() {
	g := NewWithT(f.t)
	deleteAll := func(list client.ObjectList) {
		g.Expect(k8s.List(f.ctx, list, client.InNamespace(f.namespace))).To(Succeed())
		_ = meta.EachListItem(list, func(o runtime.Object) error {
			if err := k8s.Delete(f.ctx, o.(client.Object)); client.IgnoreNotFound(err) != nil {
				f.t.Errorf("cleanup: delete %T %s: %v", o, o.(client.Object).GetName(), err)
			}
			return nil
		})
		g.Eventually(func(g Gomega) {
			g.Expect(k8s.List(f.ctx, list, client.InNamespace(f.namespace))).To(Succeed())
			g.Expect(meta.LenList(list)).To(BeZero(), "left after cleanup: %v", names(list))
		}, timeout, poll).Should(Succeed())
	}
	// Stages first (an auto-promoting Stage would promote again), then
	// Promotions, before the Stacks: a running one removes its
	// verification job from its Stack's Swarm.
	deleteAll(&kargov1.StageList{})
	deleteAll(&kargov1.WarehouseList{})
	deleteAll(&kargov1.PromotionList{})
	deleteAll(&kargov1.FreightList{})
	deleteAll(&kargov1.StackList{})
	deleteAll(&kargov1.EnvironmentList{})
	// Volumes outlive their Stacks by design: the test removes its own.
	g.Eventually(func(g Gomega) {
		vols, err := docker.VolumeList(f.ctx, volume.ListOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		for _, v := range vols.Volumes {
			if strings.HasPrefix(v.Name, f.namespace) {
				g.Expect(docker.VolumeRemove(f.ctx, v.Name, false)).To(Succeed())
			}
		}
	}, timeout, poll).Should(Succeed())
	g.Expect(client.IgnoreNotFound(k8s.Delete(f.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: f.namespace}}))).To(Succeed())
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
		f.g.Eventually(func(g Gomega) {
			g.Expect(k8s.List(f.ctx, list, client.InNamespace(f.namespace))).To(Succeed())
			g.Expect(meta.LenList(list)).To(BeZero(), "left in the deleted namespace: %v", names(list))
		}, timeout, poll).Should(Succeed())
	}
	f.g.Expect(k8s.Get(f.ctx, client.ObjectKeyFromObject(ns), ns)).To(Succeed())
	ns.Spec.Finalizers = nil
	f.g.Expect(k8s.SubResource("finalize").Update(f.ctx, ns)).To(Succeed())
	f.g.Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(f.ctx, client.ObjectKeyFromObject(ns), ns))
	}, timeout, poll).Should(BeTrue(), "namespace %s not deleted", f.namespace)
}

func names(list client.ObjectList) []string {
	var out []string
	_ = meta.EachListItem(list, func(o runtime.Object) error {
		out = append(out, o.(client.Object).GetName())
		return nil
	})
	return out
}

func (f *fixture) create(obj client.Object) {
	f.t.Helper()
	f.g.Expect(k8s.Create(f.ctx, obj)).To(Succeed())
}

// update re-reads obj, applies change and writes it, retrying on conflicts.
func (f *fixture) update(obj client.Object, change func()) {
	f.t.Helper()
	f.g.Eventually(func() error {
		if err := k8s.Get(f.ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		change()
		return k8s.Update(f.ctx, obj)
	}, timeout, poll).Should(Succeed())
}

// eventually re-reads obj until check passes: every assertion about one
// state goes in one wait, so nothing is read once after waiting for
// something else.
func (f *fixture) eventually(obj client.Object, check func(g Gomega)) {
	f.t.Helper()
	f.g.Eventually(func(g Gomega) {
		g.Expect(k8s.Get(f.ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		check(g)
	}, timeout, poll).Should(Succeed())
}

// expectCondition asserts, inside an eventually, that obj's condition typ
// has the status and (unless empty) the reason; it returns the message.
var expectCondition = testenv.ExpectCondition

// expectReady asserts, inside an eventually, that obj is Ready for its
// current generation.
func expectReady(g Gomega, obj client.Object) string {
	message := expectCondition(g, obj, kargov1.ReadyCondition, metav1.ConditionTrue, "")
	c := meta.FindStatusCondition(testenv.Conditions(obj), kargov1.ReadyCondition)
	g.Expect(c.ObservedGeneration).To(Equal(obj.GetGeneration()), "Ready for an older generation")
	return message
}

// waitCondition waits until obj's Ready condition has the status and reason, and returns its message.
func (f *fixture) waitCondition(obj client.Object, status metav1.ConditionStatus, reason string) string {
	f.t.Helper()
	var message string
	f.eventually(obj, func(g Gomega) { message = expectCondition(g, obj, kargov1.ReadyCondition, status, reason) })
	return message
}

// waitMessage waits until obj is not Ready for reason with a message
// containing part: a condition that replaces an earlier one of the same reason.
func (f *fixture) waitMessage(obj client.Object, reason, part string) {
	f.t.Helper()
	f.eventually(obj, func(g Gomega) {
		g.Expect(expectCondition(g, obj, kargov1.ReadyCondition, metav1.ConditionFalse, reason)).To(ContainSubstring(part))
	})
}

func (f *fixture) waitReady(obj client.Object) {
	f.t.Helper()
	f.eventually(obj, func(g Gomega) { expectReady(g, obj) })
}

// waitStackReady waits until the Stack is Ready with every one of its
// services counted (ReadyServices "n/n").
func (f *fixture) waitStackReady(stack *kargov1.Stack, services int) {
	f.t.Helper()
	f.eventually(stack, func(g Gomega) {
		expectReady(g, stack)
		g.Expect(stack.Status.ReadyServices).To(Equal(fmt.Sprintf("%d/%d", services, services)))
	})
}

// requestReconcile asks for a reconcile of the Stack and waits until it was handled.
func (f *fixture) requestReconcile(stack *kargov1.Stack) {
	f.t.Helper()
	token := time.Now().Format(time.RFC3339Nano)
	f.update(stack, func() {
		if stack.Annotations == nil {
			stack.Annotations = map[string]string{}
		}
		stack.Annotations[kargov1.ReconcileRequestAnnotation] = token
	})
	f.eventually(stack, func(g Gomega) { g.Expect(stack.Status.LastHandledReconcileAt).To(Equal(token)) })
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
	f.create(stack)
	for _, svc := range services {
		svc.Namespace = f.namespace
		svc.Spec.StackRef.Name = stack.Name
		f.create(svc)
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
