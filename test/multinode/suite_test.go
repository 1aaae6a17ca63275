//go:build multinode

// Package multinode tests Kargo on a Swarm of several nodes (hack/swarm.sh up
// --nodes 3): placement on node labels, spreading, global mode, a crashed
// worker and a drained node. It is built only with the multinode tag:
//
//	make test-multinode
//
// or, by hand:
//
//	hack/swarm.sh up --nodes 3
//	KUBEBUILDER_ASSETS=$(hack/envtest-assets.sh) \
//	KARGO_MULTINODE_DOCKER_HOST=$(hack/swarm.sh host --nodes 3) \
//	go test -tags multinode ./test/multinode/
package multinode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	dockerswarm "github.com/docker/docker/api/types/swarm"
	dockerclient "github.com/docker/docker/client"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kargo-io/kargo/controllers"
	"github.com/kargo-io/kargo/internal/swarm"
	"github.com/kargo-io/kargo/internal/testenv"
	"github.com/kargo-io/kargo/internal/testmanager"
)

// nodeCount is the size of the Swarm the tests need: a manager and two
// workers.
const nodeCount = 3

var (
	k8s client.Client
	// docker is the manager node's Engine API, also every Environment's endpoint.
	docker     *dockerclient.Client
	dockerHost string
	// repoRoot holds hack/swarm.sh, which kills and restarts nodes.
	repoRoot string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "multinode:", err)
		return 1
	}
	var err error
	if repoRoot, err = testenv.RepoRoot(); err != nil {
		return fail(err)
	}
	if dockerHost, err = multiNodeHost(); err != nil {
		return fail(err)
	}
	if docker, err = dockerclient.NewClientWithOpts(dockerclient.WithHost(dockerHost), dockerclient.WithAPIVersionNegotiation()); err != nil {
		return fail(err)
	}
	env, _, err := testenv.StartAPIServer()
	if err != nil {
		return fail(err)
	}
	defer func() { _ = env.Stop() }()
	mgr, err := testmanager.Start(env, "0", controllers.Settings{})
	if err != nil {
		return fail(err)
	}
	k8s = mgr.Client
	code := m.Run()
	mgr.Stop()
	left, err := leftovers(context.Background())
	if err != nil || len(left) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: the tests left on the Swarm: %s (%v)\n", strings.Join(left, ", "), err)
		return 1
	}
	return code
}

const startHint = "start the multi-node swarm with 'make test-multinode', or: hack/swarm.sh up --nodes 3 && export KARGO_MULTINODE_DOCKER_HOST=$(hack/swarm.sh host --nodes 3)"

// multiNodeHost returns KARGO_MULTINODE_DOCKER_HOST after checking that it
// is the manager of hack/swarm.sh's multi-node swarm (the tests kill and
// restart its nodes through the script) with every node ready and active.
func multiNodeHost() (string, error) {
	host := os.Getenv("KARGO_MULTINODE_DOCKER_HOST")
	if host == "" {
		return "", errors.New("KARGO_MULTINODE_DOCKER_HOST is not set: " + startHint)
	}
	out, err := swarmScript("host")
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, startHint)
	}
	if out != host {
		return "", fmt.Errorf("KARGO_MULTINODE_DOCKER_HOST=%s, but hack/swarm.sh's multi-node swarm is %s: the tests crash and drain its nodes, so they run on that one only", host, out)
	}
	if err := testenv.SwarmManager(host, startHint); err != nil {
		return "", err
	}
	return host, nil
}

// swarmScript runs hack/swarm.sh with the arguments and --nodes 3 and
// returns its trimmed output.
func swarmScript(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(repoRoot, "hack", "swarm.sh"), append(args, "--nodes", fmt.Sprint(nodeCount))...)
	cmd.Dir = repoRoot
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/swarm.sh %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// leftovers lists what the tests left on the Swarm: objects of their
// namespaces (m-...), node labels an Environment recorded, and nodes not
// ready and active (a test restores the nodes it crashes or drains).
func leftovers(ctx context.Context) ([]string, error) {
	left, err := testenv.SwarmLeftovers(ctx, docker, "m-", "m-")
	nodes, err2 := docker.NodeList(ctx, dockerswarm.NodeListOptions{})
	for _, n := range nodes {
		for k := range n.Spec.Labels {
			if strings.HasPrefix(k, swarm.ManagedNodeLabelsPrefix) {
				left = append(left, "node label "+k+" on "+n.Description.Hostname)
			}
		}
		if n.Status.State != dockerswarm.NodeStateReady || n.Spec.Availability != dockerswarm.NodeAvailabilityActive {
			left = append(left, fmt.Sprintf("node %s %s and %s", n.Description.Hostname, n.Status.State, n.Spec.Availability))
		}
	}
	sort.Strings(left)
	return left, errors.Join(err, err2)
}
