package controllers_test

import (
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	dockerswarm "github.com/docker/docker/api/types/swarm"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// slowResync sets the Environment's periodic resync to an hour, so that
// only Swarm events can explain a correction within the test.
func (f *fixture) slowResync() {
	f.Update(f.env, func() { f.env.Spec.Interval = &metav1.Duration{Duration: time.Hour} })
	f.waitReady(f.env)
}

// measureFix makes a manual change on the Swarm and waits until Kargo has
// undone it, returning the time from the change to the fix.
func (f *fixture) measureFix(what string, change func() error, fixed func() bool) time.Duration {
	f.t.Helper()
	f.g.Expect(change()).To(Succeed(), what)
	start := time.Now()
	f.g.Eventually(fixed, timeout, 50*time.Millisecond).Should(BeTrue(), "%s was not undone", what)
	took := time.Since(start)
	f.t.Logf("%-45s undone in %s", what, took.Round(time.Millisecond))
	return took
}

// driftEvent waits for a DriftCorrected event on the Stack whose message
// contains every part.
func (f *fixture) driftEvent(stack *kargov1.Stack, parts ...string) {
	f.t.Helper()
	f.g.Eventually(func() []string { return f.Events(f.g, stack) }, timeout, poll).
		Should(ContainElement(SatisfyAll(append(containAll(parts), HavePrefix(corev1.EventTypeNormal+" DriftCorrected: "))...)))
}

// TestDriftIsUndoneByEvents: manual changes of a Stack's Swarm objects are
// reverted through the Docker events subscription, with the periodic resync
// set to an hour; each correction is reported with the field it reverted.
func TestDriftIsUndoneByEvents(t *testing.T) {
	f := newFixture(t)
	f.slowResync()
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "token", Namespace: f.namespace}, Data: map[string][]byte{"token": []byte("t0k3n")}})
	web := sleeper("web")
	web.Spec.Replicas = ptr.To[int64](2)
	stack := f.stackWith("drift", web)
	f.Update(stack, func() {
		stack.Spec.Networks = append(stack.Spec.Networks, kargov1.Network{Name: "spare", Attachable: true})
		stack.Spec.Secrets = []kargov1.StackSecret{{Name: "token", SecretKeyRef: kargov1.KeySelector{Name: "token", Key: "token"}}}
	})
	f.waitStackReady(stack, 1)
	ns := stack.Spec.Namespace
	name := ns + "_web"
	g := f.g
	g.Expect(docker.ImageTag(f.ctx, "kargo.local/busybox:1", "kargo.local/busybox:drift")).To(Succeed())
	t.Cleanup(func() { _, _ = docker.ImageRemove(f.ctx, "kargo.local/busybox:drift", image.RemoveOptions{}) })

	inspect := func() (dockerswarm.Service, error) {
		svc, _, err := docker.ServiceInspectWithRaw(f.ctx, name, dockerswarm.ServiceInspectOptions{})
		return svc, err
	}
	updateLive := func(change func(*dockerswarm.ServiceSpec)) func() error {
		return func() error {
			svc, err := inspect()
			if err != nil {
				return err
			}
			change(&svc.Spec)
			_, err = docker.ServiceUpdate(f.ctx, svc.ID, svc.Version, svc.Spec, dockerswarm.ServiceUpdateOptions{})
			return err
		}
	}

	// docker service update --image
	f.measureFix("docker service update --image", updateLive(func(s *dockerswarm.ServiceSpec) {
		s.TaskTemplate.ContainerSpec.Image = "kargo.local/busybox:drift"
	}), func() bool {
		svc, err := inspect()
		return err == nil && svc.Spec.TaskTemplate.ContainerSpec.Image == "kargo.local/busybox:1"
	})
	f.driftEvent(stack, "service "+name, "reverted manual change", "TaskTemplate.ContainerSpec.Image")

	// docker service update --replicas
	f.measureFix("docker service update --replicas 5", updateLive(func(s *dockerswarm.ServiceSpec) {
		s.Mode.Replicated.Replicas = ptr.To[uint64](5)
	}), func() bool {
		svc, err := inspect()
		return err == nil && *svc.Spec.Mode.Replicated.Replicas == 2
	})
	f.driftEvent(stack, "service "+name, "Mode.Replicated.Replicas")

	// docker service rm
	f.measureFix("docker service rm", func() error {
		svc, err := inspect()
		if err != nil {
			return err
		}
		return docker.ServiceRemove(f.ctx, svc.ID)
	}, func() bool {
		_, err := inspect()
		return err == nil
	})
	f.driftEvent(stack, "service "+name+" was removed outside Kargo: recreated")

	// docker network rm of a network no service uses
	f.measureFix("docker network rm", func() error {
		return docker.NetworkRemove(f.ctx, ns+"_spare")
	}, func() bool {
		_, err := docker.NetworkInspect(f.ctx, ns+"_spare", network.InspectOptions{})
		return err == nil
	})
	f.driftEvent(stack, "network "+ns+"_spare was removed outside Kargo: recreated")

	// docker secret rm of a secret no service mounts
	secretName := func() string {
		list, _ := docker.SecretList(f.ctx, dockerswarm.SecretListOptions{Filters: filters.NewArgs(filters.Arg("label", kargov1.OwnerLabel+"="+f.namespace+"/drift"))})
		if len(list) != 1 {
			return ""
		}
		return list[0].Spec.Name
	}
	secret := secretName()
	g.Expect(secret).To(HavePrefix(ns + "_token-"))
	f.measureFix("docker secret rm", func() error {
		return docker.SecretRemove(f.ctx, secret)
	}, func() bool { return secretName() == secret })
	t.Logf("events: %v", f.Events(f.g, nil))
	f.driftEvent(stack, "secret "+secret+" was removed outside Kargo: recreated")

	f.waitStackReady(stack, 1)
	g.Expect(f.Events(f.g, stack)).NotTo(ContainElement(HavePrefix(corev1.EventTypeWarning)))
}

// TestUnrelatedEventWritesNothing: an event about an object Kargo does not
// own, in the namespace of a Stack, makes that Stack reconcile, and the
// reconcile changes nothing: zero write calls, the foreign object kept.
func TestUnrelatedEventWritesNothing(t *testing.T) {
	f := newFixture(t)
	f.slowResync()
	stack := f.stackWith("calm", sleeper("web"))
	f.waitStackReady(stack, 1)
	ns := stack.Spec.Namespace

	listsBefore := engineRequests(f, "GET /services")
	writesBefore := f.engine().Writes()
	created, err := docker.NetworkCreate(f.ctx, ns+"_foreign", network.CreateOptions{Driver: "overlay", Attachable: true})
	f.g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = docker.NetworkRemove(f.ctx, created.ID) })

	// The event reached the Stack: its reconcile listed services again.
	f.g.Eventually(func() float64 { return engineRequests(f, "GET /services") }, timeout, poll).Should(BeNumerically(">", listsBefore))
	f.requestReconcile(stack)
	f.g.Expect(f.engine().Writes()).To(Equal(writesBefore), "a reconcile after an unrelated event wrote to the Swarm")
	_, err = docker.NetworkInspect(f.ctx, created.ID, network.InspectOptions{})
	f.g.Expect(err).NotTo(HaveOccurred(), "the foreign network was removed")
	f.waitReady(stack)
}
