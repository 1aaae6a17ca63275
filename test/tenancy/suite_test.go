// Package tenancy tests what the manager lets the tenants of a shared
// management cluster reach: the endpoint policy of kargo manager
// (--allowed-endpoints, --allow-insecure-endpoints, --namespaced-environments).
// Those are manager-wide settings, so the package runs its own envtest and
// manager with the settings of managerSettings, beside the controllers
// suite's manager with the defaults; it runs in `go test ./...` on the
// shared Swarm of DOCKER_HOST.
package tenancy

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	dockerclient "github.com/docker/docker/client"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kargo-io/kargo/controllers"
	"github.com/kargo-io/kargo/internal/endpoints"
	"github.com/kargo-io/kargo/internal/testenv"
	"github.com/kargo-io/kargo/internal/testmanager"
)

// allowedLoopback is a loopback address the manager may reach (any port):
// a listener there is an allowed endpoint, one on 127.0.0.1 is not.
const allowedLoopback = "127.0.0.2"

// namespacePrefix starts the namespaces of this package's tests, hence the
// owner label of anything they make on the Swarm.
const namespacePrefix = "tn-"

var (
	// k8s reads and writes the API server directly (no cache).
	k8s        client.Client
	docker     *dockerclient.Client
	dockerHost string
)

// managerSettings are the flags of the package's manager, for every test:
// it may reach the shared Swarm and anything on allowedLoopback
// (--allowed-endpoints), and neither plain TCP (--allow-insecure-endpoints
// left at false) nor other endpoints.
func managerSettings() (controllers.Settings, error) {
	var allowed endpoints.Patterns
	if err := allowed.Set(dockerHost + "," + allowedLoopback + "/32:*"); err != nil {
		return controllers.Settings{}, err
	}
	return controllers.Settings{Endpoints: endpoints.Policy{Allowed: allowed}}, nil
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "tenancy:", err)
		return 1
	}
	var err error
	if dockerHost, err = testenv.DockerHost(); err != nil {
		return fail(err)
	}
	if docker, err = dockerclient.NewClientWithOpts(dockerclient.WithHost(dockerHost), dockerclient.WithAPIVersionNegotiation()); err != nil {
		return fail(err)
	}
	settings, err := managerSettings()
	if err != nil {
		return fail(err)
	}
	env, _, err := testenv.StartAPIServer()
	if err != nil {
		return fail(err)
	}
	defer func() { _ = env.Stop() }()
	mgr, err := testmanager.Start(env, "0", settings)
	if err != nil {
		return fail(err)
	}
	k8s = mgr.Client
	code := m.Run()
	mgr.Stop()
	left, err := testenv.SwarmLeftovers(context.Background(), docker, namespacePrefix, namespacePrefix)
	if err != nil || len(left) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: the tests left on the Swarm: %s (%v)\n", strings.Join(left, ", "), err)
		return 1
	}
	return code
}
