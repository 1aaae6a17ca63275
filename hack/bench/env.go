package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	dockerclient "github.com/docker/docker/client"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/testenv"
)

// bench holds the parts every measurement uses: the API server, a client
// of it, kubectl, the Docker client and the directory of outputs.
type bench struct {
	cfg           config
	env           *envtest.Environment
	k8s           client.Client
	kubeconfig    string
	kubectlBin    string
	docker        *dockerclient.Client
	dockerHost    string
	engineVersion string
	// proxy is how both tools reach the Swarm: it counts their requests.
	proxy *engineProxy
	// suffix makes this run's names unique; every name starts with bench-.
	suffix string
}

func newBench(ctx context.Context, cfg config) (*bench, error) {
	b := &bench{cfg: cfg, suffix: utilrand.String(5)}
	var err error
	if b.dockerHost, err = testenv.DockerHost(); err != nil {
		return nil, err
	}
	if b.docker, err = dockerclient.NewClientWithOpts(dockerclient.WithHost(b.dockerHost), dockerclient.WithAPIVersionNegotiation()); err != nil {
		return nil, err
	}
	v, err := b.docker.ServerVersion(ctx)
	if err != nil {
		return nil, err
	}
	b.engineVersion = "engine " + v.Version
	if b.proxy, err = startEngineProxy(b.dockerHost); err != nil {
		return nil, err
	}
	b.kubectlBin = filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl")
	if _, err := os.Stat(b.kubectlBin); err != nil {
		return nil, fmt.Errorf("kubectl missing in KUBEBUILDER_ASSETS: run hack/envtest-assets.sh: %w", err)
	}
	// The managers of the benchmark serve no webhook (--webhook-port=0).
	env, restCfg, err := testenv.StartAPIServer(testenv.WithoutWebhooks)
	if err != nil {
		return nil, err
	}
	b.env = env
	if b.kubeconfig, err = testenv.WriteKubeconfig(env); err != nil {
		b.close()
		return nil, err
	}
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = kargov1.AddToScheme(scheme)
	if b.k8s, err = client.New(restCfg, client.Options{Scheme: scheme}); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *bench) close() {
	if b.kubeconfig != "" {
		_ = os.Remove(b.kubeconfig)
	}
	if b.env != nil {
		_ = b.env.Stop()
	}
	if b.proxy != nil {
		b.proxy.close()
	}
}

// kubectl runs kubectl against the API server and returns its output.
func (b *bench) kubectl(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, b.kubectlBin, append([]string{"--kubeconfig", b.kubeconfig}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %v: %w: %s", args, err, out)
	}
	return string(out), nil
}

// dockerCLI runs the docker CLI against the Swarm.
func (b *bench) dockerCLI(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, b.cfg.dockerCLI, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+b.proxy.host())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("docker %v: %w: %s", args, err, out.String())
	}
	return nil
}

// namespace creates a Kubernetes namespace with an Environment "local"
// targeting the Swarm and waits until it is Ready; the returned function
// deletes them.
func (b *bench) namespace(ctx context.Context, name string) (func(), error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := b.k8s.Create(ctx, ns); err != nil {
		return nil, err
	}
	env := &kargov1.Environment{
		ObjectMeta: metav1.ObjectMeta{Name: "local", Namespace: name},
		Spec:       kargov1.EnvironmentSpec{Endpoint: kargov1.Endpoint{Host: b.proxy.host()}},
	}
	if err := b.k8s.Create(ctx, env); err != nil {
		return nil, err
	}
	err := poll(ctx, 2*time.Minute, 100*time.Millisecond, func() (bool, error) {
		if err := b.k8s.Get(ctx, client.ObjectKeyFromObject(env), env); err != nil {
			return false, err
		}
		return meta.IsStatusConditionTrue(env.Status.Conditions, kargov1.ReadyCondition), nil
	})
	if err != nil {
		return nil, fmt.Errorf("environment %s/local not Ready: %w", name, err)
	}
	return func() {
		_ = b.k8s.Delete(ctx, env)
		_ = poll(ctx, time.Minute, 100*time.Millisecond, func() (bool, error) {
			err := b.k8s.Get(ctx, client.ObjectKeyFromObject(env), env)
			return client.IgnoreNotFound(err) == nil && err != nil, nil
		})
		_ = b.k8s.Delete(ctx, ns)
	}, nil
}

// poll calls cond every interval until it is true, fails, or timeout passes.
func poll(ctx context.Context, timeout, interval time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// apiServerMetrics scrapes the API server's own metrics (empty, with a
// line saying why, when it cannot).
func (b *bench) apiServerMetrics(ctx context.Context) metrics {
	out, err := b.kubectl(ctx, "get", "--raw", "/metrics")
	if err != nil {
		fmt.Println("API server metrics:", err)
		return metrics{}
	}
	ms, err := testenv.ParseMetrics(strings.NewReader(out))
	if err != nil {
		fmt.Println("API server metrics:", err)
	}
	return ms
}
