package controllers_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	dockerclient "github.com/docker/docker/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/controllers"
	"github.com/kargo-io/kargo/internal/swarm"
	"github.com/kargo-io/kargo/internal/testenv"
)

var (
	k8s        client.Client
	engines    = &controllers.Engines{}
	docker     *dockerclient.Client
	dockerHost string
	// metricsURL is where the manager under test serves its metrics.
	metricsURL string
)

const (
	timeout = 90 * time.Second
	poll    = 250 * time.Millisecond
)

// TestMain starts a real kube-apiserver (envtest) and the manager once, with
// the local Swarm of hack/swarm.sh as the target of every Environment.
func TestMain(m *testing.M) {
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.Level(zapLevel())))
	var err error
	dockerHost, err = testenv.DockerHost()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	docker, err = dockerclient.NewClientWithOpts(dockerclient.WithHost(dockerHost), dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	env, cfg, err := testenv.StartAPIServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = kargov1.AddToScheme(scheme)
	metricsAddr, err := freeLoopbackAddr()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = env.Stop()
		os.Exit(1)
	}
	metricsURL = "http://" + metricsAddr + "/metrics"
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: metricsAddr}})
	if err == nil {
		err = controllers.SetupAll(mgr, engines)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = env.Stop()
		os.Exit(1)
	}
	k8s = mgr.GetClient()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	code := m.Run()
	cancel()
	_ = env.Stop()
	os.Exit(code)
}

// freeLoopbackAddr returns a 127.0.0.1 address with a port free right now.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func zapLevel() zapcore.Level {
	if os.Getenv("KARGO_TEST_LOGS") != "" {
		return -1
	}
	return 2 // errors only: keep test output readable
}

// fixture is one test's namespace, Environment and helpers.
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
	f.env = &kargov1.Environment{
		ObjectMeta: metav1.ObjectMeta{Name: "local", Namespace: f.namespace},
		Spec:       kargov1.EnvironmentSpec{Endpoint: kargov1.Endpoint{Host: dockerHost}},
	}
	f.create(f.env)
	f.waitReady(f.env)
	return f
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

func conditions(obj client.Object) []metav1.Condition {
	switch o := obj.(type) {
	case *kargov1.Environment:
		return o.Status.Conditions
	case *kargov1.Stack:
		return o.Status.Conditions
	case *kargov1.Service:
		return o.Status.Conditions
	}
	panic(fmt.Sprintf("no conditions on %T", obj))
}

// waitCondition waits until obj's Ready condition has the status and reason, and returns its message.
func (f *fixture) waitCondition(obj client.Object, status metav1.ConditionStatus, reason string) string {
	f.t.Helper()
	var message string
	f.g.Eventually(func(g Gomega) {
		g.Expect(k8s.Get(f.ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		c := meta.FindStatusCondition(conditions(obj), kargov1.ReadyCondition)
		g.Expect(c).NotTo(BeNil(), "no Ready condition yet")
		g.Expect(c.Status).To(Equal(status), "Ready: %s %s", c.Reason, c.Message)
		if reason != "" {
			g.Expect(c.Reason).To(Equal(reason), "Ready: %s %s", c.Reason, c.Message)
		}
		message = c.Message
	}, timeout, poll).Should(Succeed())
	return message
}

// waitMessage waits until obj is not Ready for reason with a message
// containing part: a condition that replaces an earlier one of the same reason.
func (f *fixture) waitMessage(obj client.Object, reason, part string) {
	f.t.Helper()
	f.g.Eventually(func() string { return f.waitCondition(obj, metav1.ConditionFalse, reason) }, timeout, poll).Should(ContainSubstring(part))
}

func (f *fixture) waitReady(obj client.Object) {
	f.t.Helper()
	f.waitCondition(obj, metav1.ConditionTrue, "")
}

// requestReconcile asks for a reconcile of the Stack and waits until it was handled.
func (f *fixture) requestReconcile(stack *kargov1.Stack) {
	f.t.Helper()
	token := time.Now().Format(time.RFC3339Nano)
	f.update(stack, func() {
		if stack.Annotations == nil {
			stack.Annotations = map[string]string{}
		}
		stack.Annotations[controllers.ReconcileRequestAnnotation] = token
	})
	f.g.Eventually(func() string {
		_ = k8s.Get(f.ctx, client.ObjectKeyFromObject(stack), stack)
		return stack.Status.LastHandledReconcileAt
	}, timeout, poll).Should(Equal(token))
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
