//go:build faults

// Package faults breaks real parts under a working Kargo and checks that
// it recovers: a dockerd killed (kill -9) in the middle of an apply, the
// manager process killed mid-reconcile, kube-apiserver restarted, the
// leader of two managers killed, the Docker event stream cut for 60 s and
// the Environment's endpoint down for 60 s. Every case ends with the same
// checks (fixture.converged: the Stack Ready again, each service and
// network once, no config or secret that no service uses, every volume
// still there) and logs its recovery time in one format:
//
//	RECOVERY <test> <seconds>s: <from what> to <what>
//
// The Swarms are dockerds of the suite's own (internal/testenv.Dockerd),
// so killing one disturbs no other test; the image comes from the Swarm of
// hack/swarm.sh. Built only with the faults tag, so that go test ./...
// does not run it beside the other packages:
//
//	make test-faults
//
// or, by hand:
//
//	hack/swarm.sh up
//	KUBEBUILDER_ASSETS=$(hack/envtest-assets.sh) DOCKER_HOST=$(hack/swarm.sh host) \
//	go test -tags faults ./test/faults/
//
// The cases that run manager processes (TestManagerKilled,
// TestAPIServerRestarted, TestLeaderElection) run one after the other, with
// no other manager on the API server; the others share a manager started in
// the test process and run in parallel, after them.
package faults

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dockerclient "github.com/docker/docker/client"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/controllers"
	"github.com/kargo-io/kargo/internal/testenv"
	"github.com/kargo-io/kargo/internal/testmanager"
)

// image is what every service runs, built by hack/swarm.sh.
const image = "kargo.local/busybox:1"

var (
	// k8s reads and writes the API server directly (no cache).
	k8s        client.Client
	restConfig *rest.Config
	// apiServer is envtest's kube-apiserver, restarted by TestAPIServerRestarted.
	apiServer *envtest.Environment
	// kubeconfig is an admin kubeconfig of the API server, for the manager processes.
	kubeconfig string
	// kargoBin is the kargo binary built from this checkout.
	kargoBin string
	// crashDockerd is the Swarm TestDockerdKilled kills; dockerd is the
	// Swarm of every other case.
	crashDockerd, dockerd *testenv.Dockerd

	inTestManager struct {
		once sync.Once
		mgr  *testmanager.Manager
		err  error
	}
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "faults:", err)
		return 1
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		return fail(err)
	}
	sharedHost, err := testenv.DockerHost()
	if err != nil {
		return fail(err)
	}
	shared, err := dockerclient.NewClientWithOpts(dockerclient.WithHost(sharedHost), dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		return fail(err)
	}
	defer shared.Close()

	// The binary and the two dockerds start side by side.
	tmp, err := os.MkdirTemp("", "kargo-faults-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(tmp)
	var wg sync.WaitGroup
	var buildErr, crashErr, mainErr error
	kargoBin = filepath.Join(tmp, "kargo")
	wg.Go(func() {
		build := exec.Command("go", "build", "-o", kargoBin, ".")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build kargo: %v: %s", err, out)
		}
	})
	wg.Go(func() { crashDockerd, crashErr = startDockerd(shared) })
	wg.Go(func() { dockerd, mainErr = startDockerd(shared) })
	wg.Wait()
	for _, d := range []*testenv.Dockerd{crashDockerd, dockerd} {
		if d != nil {
			defer func() {
				if err := d.Stop(); err != nil {
					fmt.Fprintln(os.Stderr, "faults:", err)
				}
			}()
		}
	}
	if err := errors.Join(buildErr, crashErr, mainErr); err != nil {
		return fail(err)
	}

	// The API server keeps its certificates in a directory of ours, so
	// that a restart serves the same ones (envtest makes new ones in a new
	// temporary directory otherwise) on the same port.
	certDir := filepath.Join(tmp, "apiserver")
	if err := os.Mkdir(certDir, 0o700); err != nil {
		return fail(err)
	}
	apiServer, restConfig, err = testenv.StartAPIServer(func(env *envtest.Environment) {
		env.ControlPlane.GetAPIServer().CertDir = certDir
	})
	if err != nil {
		return fail(err)
	}
	defer func() { _ = apiServer.Stop() }()
	if kubeconfig, err = testenv.WriteKubeconfig(apiServer); err != nil {
		return fail(err)
	}
	defer os.Remove(kubeconfig)
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = kargov1.AddToScheme(scheme)
	if k8s, err = client.New(restConfig, client.Options{Scheme: scheme}); err != nil {
		return fail(err)
	}

	code := m.Run()
	if inTestManager.mgr != nil {
		inTestManager.mgr.Stop()
	}
	var left []string
	for name, d := range map[string]*testenv.Dockerd{"crash": crashDockerd, "main": dockerd} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		l, err := testenv.SwarmLeftovers(ctx, d.Client(), "f-", "f-")
		cancel()
		if err != nil {
			return fail(fmt.Errorf("list what the tests left on the %s dockerd: %w", name, err))
		}
		for _, what := range l {
			left = append(left, what+" ("+name+" dockerd)")
		}
	}
	if len(left) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: the tests left on their Swarms: %s\n", strings.Join(left, ", "))
		return 1
	}
	return code
}

// startDockerd starts a dockerd of the suite, manager of its own Swarm,
// holding the services' image.
func startDockerd(imageSource *dockerclient.Client) (*testenv.Dockerd, error) {
	// Short: containerd's unix sockets live under it.
	dir, err := os.MkdirTemp("/tmp", "kf-")
	if err != nil {
		return nil, err
	}
	d, err := testenv.StartDockerd(dir, testenv.DockerdOptions{})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := testenv.CopyImage(ctx, imageSource, d.Client(), image); err != nil {
		return d, err
	}
	return d, nil
}

// parallelWithManager runs the test in parallel with the other cases that
// share the manager of the test process, which it starts on first use:
// after the cases that run manager processes (sequential tests run first).
func parallelWithManager(t *testing.T) {
	t.Helper()
	t.Parallel()
	inTestManager.once.Do(func() {
		inTestManager.mgr, inTestManager.err = testmanager.Start(apiServer, "0", controllers.Settings{})
	})
	if inTestManager.err != nil {
		t.Fatalf("start the manager: %v", inTestManager.err)
	}
}
