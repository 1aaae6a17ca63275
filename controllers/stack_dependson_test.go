package controllers_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/testenv"
)

// TestStackDependsOn: Stack B waits, creating nothing, while the Stack A it
// depends on is not healthy, says why, and deploys once A is Ready.
func TestStackDependsOn(t *testing.T) {
	f := newFixture(t)
	db := withHealth(sleeper("db"), "/etc/never")
	a := f.stackWith("a", db)
	web := sleeper("web")
	b := &kargov1.Stack{
		ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: f.namespace},
		Spec: kargov1.StackSpec{
			EnvironmentRef: kargov1.EnvironmentReference{Name: f.env.Name},
			Namespace:      f.namespace + "-b",
			Networks:       []kargov1.Network{{Name: "back"}},
			DependsOn:      []kargov1.LocalObjectReference{{Name: "a"}},
		},
	}
	f.Create(b)
	web.Namespace, web.Spec.StackRef.Name = f.namespace, "b"
	f.Create(web)

	f.waitMessage(b, kargov1.DependencyNotReadyReason, "stack a: ")
	// A reports not Ready from its first reconcile on, before its service
	// exists: wait for that too.
	f.g.Eventually(func() int { return f.stackServices(f.namespace + "-a") }, timeout, poll).Should(Equal(1))
	// B reconciles (twice, on request) while A is not Ready (its health
	// check never passes) and creates nothing: counted on the Swarm after
	// each handled reconcile.
	for range 2 {
		f.requestReconcile(b)
		f.g.Expect(f.stackServices(f.namespace+"-b")).To(BeZero(), "B created services before A was Ready")
	}

	// A becomes healthy: B follows.
	f.Update(db, func() { db.Spec.Healthcheck.Test = []string{"CMD", "true"} })
	f.waitStackReady(a, 1)
	f.waitStackReady(b, 1)
	f.g.Expect(f.stackServices(f.namespace + "-b")).To(Equal(1))
}

// TestDependencyCycles: cycles between Stacks and between Services of a
// Stack are reported with the cycle, as Stalled.
func TestDependencyCycles(t *testing.T) {
	f := newFixture(t)
	for _, pair := range [][2]string{{"c", "d"}, {"d", "c"}} {
		f.Create(&kargov1.Stack{
			ObjectMeta: metav1.ObjectMeta{Name: pair[0], Namespace: f.namespace},
			Spec: kargov1.StackSpec{
				EnvironmentRef: kargov1.EnvironmentReference{Name: f.env.Name},
				DependsOn:      []kargov1.LocalObjectReference{{Name: pair[1]}},
			},
		})
	}
	c := &kargov1.Stack{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: f.namespace}}
	f.Eventually(c, func(g Gomega) {
		g.Expect(testenv.ExpectCondition(g, c, kargov1.ReadyCondition, metav1.ConditionFalse, kargov1.DependencyCycleReason)).To(ContainSubstring("c -> d -> c"))
		testenv.ExpectCondition(g, c, kargov1.StalledCondition, metav1.ConditionTrue, kargov1.DependencyCycleReason)
	})

	api, web := sleeper("api"), sleeper("web")
	api.Spec.DependsOn, web.Spec.DependsOn = []string{"web"}, []string{"api"}
	loop := f.stackWith("loop", api, web)
	f.waitMessage(loop, kargov1.DependencyCycleReason, "services: api -> web -> api")
	f.g.Expect(f.stackServices(loop.Spec.Namespace)).To(BeZero())
}

// TestServiceDependsOn: inside a Stack, a service is created only once the
// services it depends on are Ready; meanwhile the Stack says what it waits for.
func TestServiceDependsOn(t *testing.T) {
	f := newFixture(t)
	api := withHealth(sleeper("api"), "/tmp/ready")
	api.Spec.Command = []string{"sh", "-c", "sleep 4; touch /tmp/ready; exec sleep 3600"}
	web := sleeper("web")
	web.Spec.DependsOn = []string{"api"}
	stack := f.stackWith("ordered", web, api)

	f.Eventually(stack, func(g Gomega) {
		g.Expect(testenv.ExpectCondition(g, stack, kargov1.ReadyCondition, metav1.ConditionFalse, "")).To(ContainSubstring("web: waiting for api to be ready"))
	})

	// web is created only after api turned healthy (4 s after it started).
	f.waitStackReady(stack, 2)
	apiSvc, webSvc := f.swarmServiceIn("ordered", "api"), f.swarmServiceIn("ordered", "web")
	f.g.Expect(webSvc.CreatedAt).To(BeTemporally(">", apiSvc.CreatedAt.Add(3e9)), "web was not created after api became healthy")
}

// TestStackDeletionOrder: Stacks are removed in the reverse of their
// dependsOn order, as the old tool removed them: A, which B depends on,
// waits while B exists and says so, and its service is removed after B's.
func TestStackDeletionOrder(t *testing.T) {
	f := newFixture(t)
	g := f.g
	a := f.stackWith("a", sleeper("db"))
	b := f.stackWith("b", sleeper("web"))
	f.Update(b, func() { b.Spec.DependsOn = []kargov1.LocalObjectReference{{Name: "a"}} })
	f.waitStackReady(a, 1)
	f.waitStackReady(b, 1)
	removed := f.serviceRemovals()

	g.Expect(k8s.Delete(f.ctx, a)).To(Succeed())
	f.waitMessage(a, kargov1.DeletingReason, "waiting for the stacks that depend on it to be deleted first: b")
	f.requestReconcile(a)
	g.Expect(f.stackServices(f.namespace+"-a")).To(Equal(1), "A removed its service while B depends on it")

	g.Expect(k8s.Delete(f.ctx, b)).To(Succeed())
	for _, st := range []*kargov1.Stack{a, b} {
		g.Eventually(func() bool {
			return apierrors.IsNotFound(k8s.Get(f.ctx, client.ObjectKeyFromObject(st), st))
		}, timeout, poll).Should(BeTrue(), "stack %s not deleted", st.Name)
	}
	var db, web time.Time
	g.Eventually(func(g Gomega) {
		db, web = removed(f.namespace+"-a_db"), removed(f.namespace+"-b_web")
		g.Expect(db).NotTo(BeZero(), "A's service not removed")
		g.Expect(web).NotTo(BeZero(), "B's service not removed")
	}, timeout, poll).Should(Succeed())
	g.Expect(db).To(BeTemporally(">", web), "A's service was removed before B's")
	t.Logf("B's service removed, then A's %s later", db.Sub(web).Round(time.Millisecond))
}

// serviceRemovals records, from the engine's event stream until the test
// ends, when each service was removed; it returns the time of a service's
// removal (zero while not seen).
func (f *fixture) serviceRemovals() func(name string) time.Time {
	ctx, cancel := context.WithCancel(f.ctx)
	f.t.Cleanup(cancel)
	messages, _ := docker.Events(ctx, events.ListOptions{Filters: filters.NewArgs(filters.Arg("type", "service"), filters.Arg("event", "remove"))})
	var mu sync.Mutex
	seen := map[string]time.Time{}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case m := <-messages:
				mu.Lock()
				seen[m.Actor.Attributes["name"]] = time.Unix(0, m.TimeNano)
				mu.Unlock()
			}
		}
	}()
	return func(name string) time.Time {
		mu.Lock()
		defer mu.Unlock()
		return seen[name]
	}
}
