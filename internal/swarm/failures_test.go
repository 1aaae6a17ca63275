package swarm_test

import (
	"context"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	dockerswarm "github.com/docker/docker/api/types/swarm"
	. "github.com/onsi/gomega"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/swarm"
)

// TestTaskFailures runs four services at once: one that exits 1 (restart
// condition any), one whose health check fails, one healthy, one healthy
// that is updated. Only the first two show failures, each at or after
// since; the update's shut-down task is none.
func TestTaskFailures(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	c := connect(t)
	since := time.Now()
	restartSoon := func(s *dockerswarm.ServiceSpec) {
		delay := 500 * time.Millisecond
		s.TaskTemplate.RestartPolicy = &dockerswarm.RestartPolicy{Condition: dockerswarm.RestartPolicyConditionAny, Delay: &delay}
	}
	crashing := testService(t, c, "exit 1", restartSoon)
	unhealthy := testService(t, c, "sleep 600", func(s *dockerswarm.ServiceSpec) {
		restartSoon(s)
		s.TaskTemplate.ContainerSpec.Healthcheck = &container.HealthConfig{Test: []string{"CMD", "false"}, Interval: time.Second, Timeout: time.Second, Retries: 1}
	})
	healthy := testService(t, c, "sleep 600", nil)
	updated := testService(t, c, "sleep 600", nil)
	all := []string{crashing.Name, unhealthy.Name, healthy.Name, updated.Name}

	running := func(g Gomega, name string) []dockerswarm.Task {
		tasks := serviceTasks(g, c, name)
		g.Expect(tasks).To(ContainElement(HaveField("Status.State", dockerswarm.TaskStateRunning)), "%s runs", name)
		return tasks
	}
	g.Eventually(func(g Gomega) { running(g, updated.Name) }, 60*time.Second, 250*time.Millisecond).Should(Succeed())
	updated.TaskTemplate.ContainerSpec.Env = []string{"VERSION=2"}
	res, err := c.ApplyService(ctx, updated, swarm.SpecHash(updated, nil, nil), updated.Labels[kargov1.OwnerLabel], true, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Change).To(Equal(swarm.Updated))

	var failures []swarm.TaskFailure
	g.Eventually(func(g Gomega) {
		running(g, healthy.Name)
		tasks := running(g, updated.Name)
		g.Expect(tasks).To(ContainElement(HaveField("Status.State", dockerswarm.TaskStateShutdown)), "the updated service's old task is shut down")
		failures, err = c.TaskFailures(ctx, all, since)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(failures).To(ContainElement(HaveField("Service", crashing.Name)))
		g.Expect(failures).To(ContainElement(SatisfyAll(HaveField("Service", unhealthy.Name), HaveField("Message", ContainSubstring("unhealthy")))))
	}, 90*time.Second, 500*time.Millisecond).Should(Succeed())
	for _, f := range failures {
		t.Logf("%s %s %s at %s: %s (exit %d)", f.Service, f.TaskID, f.State, f.At.Format(time.RFC3339Nano), f.Message, f.ExitCode)
		g.Expect(f.Service).To(BeElementOf(crashing.Name, unhealthy.Name), "only the crashing and unhealthy services fail")
		g.Expect(f.At).NotTo(BeTemporally("<", since))
		g.Expect(f.State).To(Equal(string(dockerswarm.TaskStateFailed)))
		g.Expect(f.Image).To(Equal(crashing.TaskTemplate.ContainerSpec.Image), "the image the task ran")
		if f.Service == crashing.Name {
			g.Expect(f.ExitCode).To(Equal(1))
			g.Expect(f.Message).To(ContainSubstring("non-zero exit (1)"))
		}
	}

	// None before since: after the last failure listed, only later ones.
	last := failures[len(failures)-1].At
	later, err := c.TaskFailures(ctx, all, last.Add(time.Nanosecond))
	g.Expect(err).NotTo(HaveOccurred())
	for _, f := range later {
		g.Expect(f.At).To(BeTemporally(">", last))
	}
	g.Expect(len(later)).To(BeNumerically("<", len(failures)))

	none, err := c.TaskFailures(ctx, []string{healthy.Name, updated.Name, "test-no-such-service"}, since)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(none).To(BeEmpty())
}
