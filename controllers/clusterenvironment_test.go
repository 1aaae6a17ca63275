package controllers_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/testenv"
)

// TestClusterEnvironment: platform admins offer a Swarm to some namespaces
// with a ClusterEnvironment. A Stack of an allowed namespace deploys on it;
// a Stack of another namespace is NotAllowed (Stalled) and the manager asks
// nothing of the Swarm for it; labelling that namespace to match the
// selector lets it deploy.
func TestClusterEnvironment(t *testing.T) {
	cenv := &kargov1.ClusterEnvironment{ObjectMeta: metav1.ObjectMeta{Name: "t-" + utilrand.String(6) + "-shared"}}
	// Registered first, so it runs after both fixtures' cleanups (LIFO):
	// the ClusterEnvironment waits for their Stacks to go.
	t.Cleanup(func() {
		g := NewWithT(t)
		g.Expect(client.IgnoreNotFound(k8s.Delete(context.Background(), cenv))).To(Succeed())
		g.Eventually(func() bool {
			return apierrors.IsNotFound(k8s.Get(context.Background(), client.ObjectKeyFromObject(cenv), cenv))
		}, timeout, poll).Should(BeTrue(), "clusterenvironment not deleted")
	})
	allowed, other := newFixture(t), newFixture(t)
	g := allowed.g
	cenv = &kargov1.ClusterEnvironment{
		ObjectMeta: metav1.ObjectMeta{Name: cenv.Name},
		Spec: kargov1.ClusterEnvironmentSpec{
			EnvironmentSpec: kargov1.EnvironmentSpec{
				Endpoint: kargov1.Endpoint{Host: dockerHost},
				// No periodic resync during the test: every engine request
				// counted below comes from a Stack.
				Interval: &metav1.Duration{Duration: time.Hour},
			},
			AllowedNamespaces: kargov1.AllowedNamespaces{
				Names:    []string{allowed.namespace},
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"kargo.test/team": other.namespace}},
			},
		},
	}
	allowed.Create(cenv)
	allowed.waitReady(cenv)

	// The Stack's environmentRef is immutable: create it naming the
	// ClusterEnvironment from the start.
	sharedStack := func(f *fixture, name string) *kargov1.Stack {
		stack := &kargov1.Stack{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.namespace},
			Spec: kargov1.StackSpec{
				EnvironmentRef: kargov1.EnvironmentReference{Kind: kargov1.ClusterEnvironmentKind, Name: cenv.Name},
				Namespace:      f.namespace + "-" + name,
				Networks:       []kargov1.Network{{Name: "back"}},
			},
		}
		f.Create(stack)
		svc := sleeper("web")
		svc.Namespace, svc.Spec.StackRef.Name = f.namespace, name
		f.Create(svc)
		return stack
	}
	// What a Stack asks of a Swarm (the Environment's own reconcile pings
	// and reads nodes meanwhile: a new Stack wakes it).
	stackRequests := func() float64 {
		total := 0.0
		for _, op := range []string{"GET /services", "GET /tasks", "GET /networks", "GET /configs", "GET /secrets",
			"GET /services/{id}", "GET /networks/{id}", "POST /services/create", "POST /networks/create", "POST /configs/create", "POST /secrets/create"} {
			total += metricSum(allowed, "kargo_engine_requests_total", map[string]string{"environment": cenv.Name, "operation": op})
		}
		return total
	}
	theirs := sharedStack(other, "theirs")
	other.Eventually(theirs, func(g Gomega) {
		msg := testenv.ExpectCondition(g, theirs, kargov1.ReadyCondition, metav1.ConditionFalse, kargov1.NotAllowedReason)
		g.Expect(msg).To(ContainSubstring("does not allow namespace " + other.namespace))
		testenv.ExpectCondition(g, theirs, kargov1.StalledCondition, metav1.ConditionTrue, kargov1.NotAllowedReason)
	})
	other.requestReconcile(theirs)
	g.Expect(stackRequests()).To(BeZero(), "engine requests made for a Stack of a namespace not allowed")
	g.Expect(other.stackServices(other.namespace + "-theirs")).To(BeZero())

	mine := sharedStack(allowed, "mine")
	allowed.waitStackReady(mine, 1)
	svc := allowed.swarmServiceIn("mine", "web")
	g.Expect(svc.Spec.Labels).To(HaveKeyWithValue(kargov1.OwnerLabel, allowed.namespace+"/mine"))
	g.Expect(stackRequests()).NotTo(BeZero(), "the operations counted are those a Stack makes")

	// The namespace's labels now match the selector.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: other.namespace}}
	other.Update(ns, func() { ns.Labels = map[string]string{"kargo.test/team": other.namespace} })
	other.waitStackReady(theirs, 1)
}
