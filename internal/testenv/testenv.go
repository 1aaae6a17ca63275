// Package testenv starts the real parts tests run against: a kube-apiserver
// with Kargo's CRDs (envtest) and the local Swarm of hack/swarm.sh. When a part
// is missing, the error says how to get it; tests fail rather than skip.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	dockerclient "github.com/docker/docker/client"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// RepoRoot is the directory holding go.mod, found from the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// StartAPIServer starts etcd and kube-apiserver from KUBEBUILDER_ASSETS with
// Kargo's CRDs and admission webhooks installed (config/webhook, calling
// env.WebhookInstallOptions' LocalServingHost and LocalServingPort, with a
// certificate of LocalServingCertDir: what testmanager.Start serves);
// configure, if any, adjusts the environment first.
func StartAPIServer(configure ...func(*envtest.Environment)) (*envtest.Environment, *rest.Config, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return nil, nil, errors.New("KUBEBUILDER_ASSETS is not set: run 'make test', or export KUBEBUILDER_ASSETS=$(hack/envtest-assets.sh)")
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			return nil, nil, fmt.Errorf("%s missing in KUBEBUILDER_ASSETS=%s: run hack/envtest-assets.sh", bin, assets)
		}
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, nil, err
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			Paths:            []string{filepath.Join(root, "config", "webhook", "manifests.yaml")},
			LocalServingHost: "127.0.0.1",
		},
	}
	for _, c := range configure {
		c(env)
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, fmt.Errorf("start envtest: %w", err)
	}
	return env, cfg, nil
}

// WithoutWebhooks configures StartAPIServer to install no admission
// webhook: for suites whose managers serve none (the schema tests, the
// benchmark's manager processes). Installed and unanswered, the webhook
// refuses every Promotion and approval.
func WithoutWebhooks(env *envtest.Environment) {
	env.WebhookInstallOptions = envtest.WebhookInstallOptions{}
}

// DockerHost returns DOCKER_HOST after checking that it answers and is a
// Swarm manager.
func DockerHost() (string, error) {
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		return "", errors.New("DOCKER_HOST is not set: run 'make test', or eval $(hack/swarm.sh up) to start the local swarm")
	}
	if err := SwarmManager(host, "eval $(hack/swarm.sh up)"); err != nil {
		return "", err
	}
	return host, nil
}

// SwarmManager checks that the Engine at host answers and is a Swarm
// manager; the error ends with hint, which says how to start it.
func SwarmManager(host, hint string) error {
	cli, err := dockerclient.NewClientWithOpts(dockerclient.WithHost(host), dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := cli.Info(ctx)
	if err != nil {
		return fmt.Errorf("docker at %s does not answer (%w): %s", host, err, hint)
	}
	if !info.Swarm.ControlAvailable {
		return fmt.Errorf("docker at %s is not a swarm manager: %s", host, hint)
	}
	return nil
}

// WriteKubeconfig writes a kubeconfig of an admin user (system:masters) of
// the envtest API server to a temporary file, for kubectl, and returns its
// path; the caller removes it.
func WriteKubeconfig(env *envtest.Environment) (string, error) {
	user, err := env.AddUser(envtest.User{Name: "kargo-test-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", fmt.Errorf("add envtest user: %w", err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		return "", fmt.Errorf("kubeconfig: %w", err)
	}
	f, err := os.CreateTemp("", "kargo-test-kubeconfig-")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return "", err
	}
	return f.Name(), nil
}
