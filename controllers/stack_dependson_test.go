package controllers_test

import (
	"testing"
	"time"

	dockerswarm "github.com/docker/docker/api/types/swarm"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

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

// stackServices counts the Swarm services of a stack namespace.
func (f *fixture) stackServices(namespace string) int {
	f.t.Helper()
	list, err := docker.ServiceList(f.ctx, dockerswarm.ServiceListOptions{})
	f.g.Expect(err).NotTo(HaveOccurred())
	n := 0
	for _, s := range list {
		if s.Spec.Labels[kargov1.StackNamespaceLabel] == namespace {
			n++
		}
	}
	return n
}

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
			EnvironmentRef: kargov1.LocalObjectReference{Name: f.env.Name},
			Namespace:      f.namespace + "-b",
			Networks:       []kargov1.Network{{Name: "back"}},
			DependsOn:      []kargov1.LocalObjectReference{{Name: "a"}},
		},
	}
	f.create(b)
	web.Namespace, web.Spec.StackRef.Name = f.namespace, "b"
	f.create(web)

	message := f.waitCondition(b, metav1.ConditionFalse, kargov1.DependencyNotReadyReason)
	f.g.Expect(message).To(ContainSubstring("stack a: "))
	f.g.Consistently(func() int { return f.stackServices(f.namespace + "-b") }, "3s", poll).Should(BeZero(), "B created services before A was Ready")
	f.g.Expect(f.stackServices(f.namespace + "-a")).To(Equal(1))

	// A becomes healthy: B follows.
	f.update(db, func() { db.Spec.Healthcheck.Test = []string{"CMD", "true"} })
	f.waitReady(a)
	f.waitReady(b)
	f.g.Expect(f.stackServices(f.namespace + "-b")).To(Equal(1))
}

// TestDependencyCycles: cycles between Stacks and between Services of a
// Stack are reported with the cycle, as Stalled.
func TestDependencyCycles(t *testing.T) {
	f := newFixture(t)
	for _, pair := range [][2]string{{"c", "d"}, {"d", "c"}} {
		f.create(&kargov1.Stack{
			ObjectMeta: metav1.ObjectMeta{Name: pair[0], Namespace: f.namespace},
			Spec: kargov1.StackSpec{
				EnvironmentRef: kargov1.LocalObjectReference{Name: f.env.Name},
				DependsOn:      []kargov1.LocalObjectReference{{Name: pair[1]}},
			},
		})
	}
	c := &kargov1.Stack{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: f.namespace}}
	message := f.waitCondition(c, metav1.ConditionFalse, kargov1.DependencyCycleReason)
	f.g.Expect(message).To(ContainSubstring("c -> d -> c"))
	f.g.Expect(conditionStatus(c, kargov1.StalledCondition)).To(Equal(metav1.ConditionTrue))

	api, web := sleeper("api"), sleeper("web")
	api.Spec.DependsOn, web.Spec.DependsOn = []string{"web"}, []string{"api"}
	loop := f.stackWith("loop", api, web)
	message = f.waitCondition(loop, metav1.ConditionFalse, kargov1.DependencyCycleReason)
	f.g.Expect(message).To(ContainSubstring("services: api -> web -> api"))
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

	f.g.Eventually(func() string {
		_ = k8s.Get(f.ctx, client.ObjectKeyFromObject(stack), stack)
		if c := meta.FindStatusCondition(stack.Status.Conditions, kargov1.ReadyCondition); c != nil && c.Status == metav1.ConditionFalse {
			return c.Message
		}
		return ""
	}, timeout, poll).Should(ContainSubstring("web: waiting for api to be ready"))
	_, _, err := docker.ServiceInspectWithRaw(f.ctx, stack.Spec.Namespace+"_web", dockerswarm.ServiceInspectOptions{})
	f.g.Expect(err).To(HaveOccurred(), "web was created before api was ready")

	f.waitReady(stack)
	apiSvc, webSvc := f.swarmServiceIn("ordered", "api"), f.swarmServiceIn("ordered", "web")
	f.g.Expect(webSvc.CreatedAt).To(BeTemporally(">", apiSvc.CreatedAt.Add(3e9)), "web was not created after api became healthy")
}

func conditionStatus(obj *kargov1.Stack, typ string) metav1.ConditionStatus {
	if c := meta.FindStatusCondition(obj.Status.Conditions, typ); c != nil {
		return c.Status
	}
	return ""
}
