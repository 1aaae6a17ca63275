package swarm_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	dockerswarm "github.com/docker/docker/api/types/swarm"
	dockerclient "github.com/docker/docker/client"
	. "github.com/onsi/gomega"
	utilrand "k8s.io/apimachinery/pkg/util/rand"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/swarm"
	"github.com/kargo-io/kargo/internal/testenv"
)

// startJob starts a job of a random name with the test busybox image and
// removes it when the test ends.
func startJob(t *testing.T, c *swarm.Client, image string, script string) swarm.JobSpec {
	t.Helper()
	name := "kargo-verify-test-" + utilrand.String(6)
	spec := swarm.JobSpec{
		Name: name, Image: image, Command: []string{"sh", "-c"}, Args: []string{script},
		Env:    []string{"GREETING=ok"},
		Labels: map[string]string{kargov1.PromotionLabel: "test/" + name},
	}
	if err := c.StartJob(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.RemoveJob(context.Background(), name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return spec
}

// jobDone waits for the job to be done and returns its state.
func jobDone(g Gomega, c *swarm.Client, name string, within time.Duration) swarm.JobState {
	var state swarm.JobState
	g.Eventually(func(g Gomega) {
		var err error
		state, err = c.JobState(context.Background(), name)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(state.Done).To(BeTrue(), "job %s: %s", name, state.Message)
	}, within, 250*time.Millisecond).Should(Succeed())
	return state
}

// TestJobSucceeds: a job that prints ok and exits 0 is done, succeeded,
// with its output; starting it again is a no-op; removing it twice is fine
// and leaves nothing on the Swarm.
func TestJobSucceeds(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	c := connect(t)
	spec := startJob(t, c, "kargo.local/busybox:1", `echo "$GREETING"; echo err >&2; exit 0`)

	state := jobDone(g, c, spec.Name, 60*time.Second)
	g.Expect(state.Succeeded).To(BeTrue(), state.Message)
	g.Expect(state.ExitCode).To(BeZero())
	g.Expect(state.Output).To(ContainSubstring("ok"))
	g.Expect(state.Output).To(ContainSubstring("err"), "stderr too")
	t.Logf("job %s: %+v", spec.Name, state)

	writes := c.Writes()
	g.Expect(c.StartJob(ctx, spec)).To(Succeed())
	g.Expect(c.Writes()-writes).To(BeZero(), "a started job is not started again")

	live, _, err := c.InspectService(ctx, spec.Name)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(c.RemoveJob(ctx, spec.Name)).To(Succeed())
	g.Expect(c.RemoveJob(ctx, spec.Name)).To(Succeed(), "a second removal")
	_, found, err := c.InspectService(ctx, spec.Name)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(found).To(BeFalse())
	_, err = c.JobState(ctx, spec.Name)
	g.Expect(swarm.IsNotFound(err)).To(BeTrue(), "JobState of a removed job: %v", err)

	// Nothing of the job is left: no task record, no exited container
	// (Swarm keeps both for a removed replicated-job service).
	engine := dockerAPI(t)
	g.Eventually(func(g Gomega) {
		tasks, err := engine.TaskList(ctx, dockerswarm.TaskListOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(tasks).NotTo(ContainElement(HaveField("ServiceID", live.ID)), "tasks of the removed job")
		containers, err := engine.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", "com.docker.swarm.service.id="+live.ID))})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(containers).To(BeEmpty(), "containers of the removed job")
	}, 30*time.Second, 500*time.Millisecond).Should(Succeed())
}

// dockerAPI is a plain Docker client of the test Swarm, to see what
// internal/swarm does not show (task records, containers, the engine's
// own errors).
func dockerAPI(t *testing.T) dockerclient.APIClient {
	t.Helper()
	host, err := testenv.DockerHost()
	if err != nil {
		t.Fatal(err)
	}
	engine, err := dockerclient.NewClientWithOpts(dockerclient.WithHost(host), dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Close() })
	return engine
}

// TestJobFails: a job that prints 30 lines and exits 3 is done, not
// succeeded, exit code 3, its output the last 20 lines.
func TestJobFails(t *testing.T) {
	g := NewWithT(t)
	c := connect(t)
	spec := startJob(t, c, "kargo.local/busybox:1", `for i in $(seq 1 30); do echo "line $i"; done; exit 3`)

	state := jobDone(g, c, spec.Name, 60*time.Second)
	g.Expect(state.Succeeded).To(BeFalse())
	g.Expect(state.ExitCode).To(Equal(3))
	g.Expect(state.Message).To(ContainSubstring("non-zero exit (3)"))
	lines := strings.Split(state.Output, "\n")
	g.Expect(lines).To(HaveLen(swarm.JobOutputLines), state.Output)
	g.Expect(lines[0]).To(Equal("line 11"))
	g.Expect(lines[len(lines)-1]).To(Equal("line 30"))
	t.Logf("job %s: %s", spec.Name, state.Message)
}

// TestJobImageMissing: a job whose image cannot be pulled (no registry
// answers for kargo.local) ends done, not succeeded, naming the image.
func TestJobImageMissing(t *testing.T) {
	g := NewWithT(t)
	c := connect(t)
	image := "kargo.local/missing-" + utilrand.String(5) + ":1"
	spec := startJob(t, c, image, "exit 0")

	start := time.Now()
	state := jobDone(g, c, spec.Name, 90*time.Second)
	g.Expect(state.Succeeded).To(BeFalse())
	g.Expect(state.Message).To(ContainSubstring(image))
	t.Logf("job %s done after %s: %s", spec.Name, time.Since(start).Round(time.Millisecond), state.Message)
}

// TestJobNameTaken: a service of the job's name that is not that job is
// an error naming its owner, and neither StartJob, JobState nor RemoveJob
// touches it.
func TestJobNameTaken(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	c := connect(t)
	other := startJob(t, c, "kargo.local/busybox:1", "exit 0")
	spec := other
	spec.Labels = map[string]string{kargov1.PromotionLabel: "test/another"}
	writes := c.Writes()
	err := c.StartJob(ctx, spec)
	g.Expect(err).To(MatchError(fmt.Sprintf("service %s is owned by %s", spec.Name, other.Labels[kargov1.PromotionLabel])))
	g.Expect(c.Writes() - writes).To(BeZero())

	svc := testService(t, c, `sleep 600`, nil)
	_, err = c.JobState(ctx, svc.Name)
	var conflict *swarm.ConflictError
	g.Expect(err).To(BeAssignableToTypeOf(conflict))
	g.Expect(c.RemoveJob(ctx, svc.Name)).To(BeAssignableToTypeOf(conflict))
	_, found, err := c.InspectService(ctx, svc.Name)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(found).To(BeTrue(), "RemoveJob removed a service that is no job")
}

// testService creates a replicated service of one busybox task running
// script, with a random name (also its stack namespace), changed by change
// when set, removed when the test ends.
func testService(t *testing.T, c *swarm.Client, script string, change func(*dockerswarm.ServiceSpec)) dockerswarm.ServiceSpec {
	t.Helper()
	ctx := context.Background()
	name := "test-" + utilrand.String(6)
	owner := "test/" + name
	one := uint64(1)
	grace := time.Second
	spec := dockerswarm.ServiceSpec{
		Annotations: dockerswarm.Annotations{Name: name, Labels: map[string]string{kargov1.OwnerLabel: owner, kargov1.StackNamespaceLabel: name}},
		Mode:        dockerswarm.ServiceMode{Replicated: &dockerswarm.ReplicatedService{Replicas: &one}},
		TaskTemplate: dockerswarm.TaskSpec{
			ContainerSpec: &dockerswarm.ContainerSpec{Image: "kargo.local/busybox:1", Command: []string{"sh", "-c", script}, StopGracePeriod: &grace},
		},
	}
	if change != nil {
		change(&spec)
	}
	res, err := c.ApplyService(ctx, spec, swarm.SpecHash(spec, nil, nil), owner, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := c.RemoveOwned(ctx, &swarm.Owned{Services: []dockerswarm.Service{{ID: res.ID, Spec: spec}}}, nil, func(string, string) {}); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return spec
}

// serviceTasks lists the tasks of a service testService created.
func serviceTasks(g Gomega, c *swarm.Client, name string) []dockerswarm.Task {
	owned, err := c.ListOwned(context.Background(), swarm.Claim{Namespace: name, Owner: "test/" + name})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(owned.Services).To(HaveLen(1), "service %s", name)
	return owned.Tasks[owned.Services[0].ID]
}
