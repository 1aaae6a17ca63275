package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	dockerswarm "github.com/docker/docker/api/types/swarm"
	dockerclient "github.com/docker/docker/client"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kargo-io/kargo/controllers"
	"github.com/kargo-io/kargo/internal/endpoints"
	"github.com/kargo-io/kargo/internal/swarm"
	"github.com/kargo-io/kargo/internal/testenv"
	"github.com/kargo-io/kargo/internal/testmanager"
)

var (
	// k8s reads and writes the API server directly (no cache): what a test
	// reads is what the API server holds.
	k8s        client.Client
	engines    *controllers.Engines
	docker     *dockerclient.Client
	dockerHost string
	// metricsURL is where the manager under test serves its metrics.
	metricsURL string
	// kubeconfig is a kubeconfig file for the test API server, for kubectl.
	kubeconfig string
	// managerCache is the cache of the manager under test.
	managerCache cache.Cache
	// engineRequestTimeout bounds each Engine API request of the manager
	// (TestStalledEndpoint waits for it).
	engineRequestTimeout = scaled(10 * time.Second)
)

// TestMain starts a real kube-apiserver (envtest) and the manager once, with
// the local Swarm of hack/swarm.sh as the target of every Environment. After
// the tests it fails the run if anything Kargo owns is left on the Swarm.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var err error
	if dockerHost, err = testenv.DockerHost(); err != nil {
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
	if kubeconfig, err = testenv.WriteKubeconfig(env); err != nil {
		return fail(err)
	}
	defer os.Remove(kubeconfig)
	metricsAddr, err := testenv.FreeLoopbackAddr()
	if err != nil {
		return fail(err)
	}
	metricsURL = "http://" + metricsAddr + "/metrics"
	// The defaults, but for plain TCP: TestTLSEndpoint checks that insecure:
	// true against a TLS port fails as a TLS error. The endpoint policy has
	// its own suite (test/tenancy).
	settings := controllers.Settings{Endpoints: endpoints.Policy{AllowInsecure: true}, EngineRequestTimeout: engineRequestTimeout}
	mgr, err := testmanager.Start(env, metricsAddr, settings)
	if err != nil {
		return fail(err)
	}
	k8s, engines, managerCache = mgr.Client, mgr.Engines, mgr.Cache
	code := m.Run()
	mgr.Stop()
	if err := leftovers(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: the tests left objects on the Swarm:", err)
		return 1
	}
	return code
}

// leftovers lists what Kargo owns on the Swarm after every test cleaned up:
// services, networks, configs and secrets with its owner label, volumes of
// test namespaces and node labels an Environment recorded.
func leftovers(ctx context.Context) error {
	// kargo-t-: the old-tool stacks of TestWorkspaceMigration.
	left, err := testenv.SwarmLeftovers(ctx, docker, "t-", "t-", "kargo-t-")
	nodes, err2 := docker.NodeList(ctx, dockerswarm.NodeListOptions{})
	for _, n := range nodes {
		for k := range n.Spec.Labels {
			if strings.HasPrefix(k, swarm.ManagedNodeLabelsPrefix) {
				left = append(left, "node label "+k+" on "+n.Description.Hostname)
			}
		}
	}
	if err := errors.Join(err, err2); err != nil {
		return err
	}
	if len(left) > 0 {
		return errors.New(strings.Join(left, ", "))
	}
	return nil
}
