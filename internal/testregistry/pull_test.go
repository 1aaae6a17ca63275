package testregistry_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	dockerimage "github.com/docker/docker/api/types/image"
	dockerswarm "github.com/docker/docker/api/types/swarm"
	dockerclient "github.com/docker/docker/client"
	. "github.com/onsi/gomega"

	"github.com/kargo-io/kargo/internal/testenv"
	"github.com/kargo-io/kargo/internal/testregistry"
)

// TestSwarmPullsByDigest: the dockerd of hack/swarm.sh pulls an image of
// the registry by digest over plain HTTP (a loopback registry needs no
// TLS and no daemon setting), and a service of it runs: the image's
// busybox and default command work.
func TestSwarmPullsByDigest(t *testing.T) {
	host, err := testenv.DockerHost()
	if err != nil {
		t.Fatal(err)
	}
	docker, err := dockerclient.NewClientWithOpts(dockerclient.WithHost(host), dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = docker.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reg := testregistry.ForTest(t)
	digest, err := reg.Push(ctx, "app:1.0.0", testregistry.ImageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	image := reg.Repo("app") + "@" + digest
	name := "kargo-testregistry-" + strings.ToLower(rand.Text()[:8])
	created, err := docker.ServiceCreate(ctx, dockerswarm.ServiceSpec{
		Annotations:  dockerswarm.Annotations{Name: name},
		TaskTemplate: dockerswarm.TaskSpec{ContainerSpec: &dockerswarm.ContainerSpec{Image: image}},
	}, dockerswarm.ServiceCreateOptions{QueryRegistry: true})
	if err != nil {
		t.Fatal(err)
	}
	// The service, then the image, once the service's container is gone.
	t.Cleanup(func() {
		if err := docker.ServiceRemove(context.Background(), created.ID); err != nil {
			t.Errorf("remove service %s: %v", name, err)
		}
		NewWithT(t).Eventually(func() error {
			_, err := docker.ImageRemove(context.Background(), image, dockerimage.RemoveOptions{PruneChildren: true})
			return err
		}).WithTimeout(time.Minute).WithPolling(time.Second).Should(Succeed(), "remove image %s", image)
	})
	NewWithT(t).Eventually(func(g Gomega) {
		tasks, err := docker.TaskList(ctx, dockerswarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", created.ID))})
		g.Expect(err).NotTo(HaveOccurred())
		var states []string
		for _, task := range tasks {
			states = append(states, fmt.Sprintf("%s %s %s (%s)", task.Status.State, task.Status.Message, task.Status.Err, task.Spec.ContainerSpec.Image))
		}
		g.Expect(states).To(ContainElement(HavePrefix("running ")), "tasks of a service of %s", image)
		g.Expect(states).To(ContainElement(HaveSuffix("(" + image + ")")))
	}).WithTimeout(2 * time.Minute).WithPolling(500 * time.Millisecond).Should(Succeed())
}
