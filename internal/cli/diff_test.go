package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dockerswarm "github.com/docker/docker/api/types/swarm"
	dockerclient "github.com/docker/docker/client"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/controllers"
	"github.com/kargo-io/kargo/internal/testenv"
	"github.com/kargo-io/kargo/internal/testmanager"
)

// The kargo diff tests run against a real kube-apiserver (envtest) with the
// manager reconciling onto the local Swarm of hack/swarm.sh. It starts on
// the first test that needs it, so that the offline tests of the package
// need neither; TestMain stops it and fails the run when the diff tests
// left anything on the Swarm.

// diffPrefix starts the namespaces of the diff tests, hence the owner label
// of every Swarm object they make.
const diffPrefix = "kd-"

const (
	diffTimeout = 3 * time.Minute
	diffPoll    = 250 * time.Millisecond
)

type diffEnv struct {
	k8s        client.Client
	docker     *dockerclient.Client
	dockerHost string
	kubeconfig string
	stop       func()
}

var (
	diffEnvOnce    sync.Once
	diffEnvStarted *diffEnv
	diffEnvErr     error
)

// diffEnvironment starts envtest and the manager once for the package.
func diffEnvironment(t *testing.T) *diffEnv {
	t.Helper()
	diffEnvOnce.Do(func() { diffEnvStarted, diffEnvErr = startDiffEnv() })
	if diffEnvErr != nil {
		t.Fatal(diffEnvErr)
	}
	return diffEnvStarted
}

func startDiffEnv() (*diffEnv, error) {
	host, err := testenv.DockerHost()
	if err != nil {
		return nil, err
	}
	docker, err := dockerclient.NewClientWithOpts(dockerclient.WithHost(host), dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		return nil, err
	}
	env, _, err := testenv.StartAPIServer()
	if err != nil {
		return nil, err
	}
	kubeconfig, err := testenv.WriteKubeconfig(env)
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	mgr, err := testmanager.Start(env, "0", controllers.Settings{})
	if err != nil {
		_ = env.Stop()
		os.Remove(kubeconfig)
		return nil, err
	}
	return &diffEnv{k8s: mgr.Client, docker: docker, dockerHost: host, kubeconfig: kubeconfig, stop: func() {
		mgr.Stop()
		_ = env.Stop()
		os.Remove(kubeconfig)
		_ = docker.Close()
	}}, nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if e := promoteEnvStarted; e != nil {
		e.stop()
	}
	if e := diffEnvStarted; e != nil {
		left, err := testenv.SwarmLeftovers(context.Background(), e.docker, diffPrefix, diffPrefix)
		e.stop()
		if err != nil || len(left) > 0 {
			fmt.Fprintln(os.Stderr, "FAIL: the diff tests left objects on the Swarm:", strings.Join(left, ", "), err)
			code = 1
		}
	}
	os.Exit(code)
}

// diffFixture is one test's namespace (testenv.Namespace, which deletes
// the Stacks, the Environments, the volumes of the namespace's stacks and
// the namespace when the test ends) and manifests directory.
type diffFixture struct {
	t         *testing.T
	g         *WithT
	e         *diffEnv
	ctx       context.Context
	namespace string
	dir       string
}

func newDiffFixture(t *testing.T) *diffFixture {
	e := diffEnvironment(t)
	ns := testenv.NewNamespace(t, e.k8s, diffPrefix, diffTimeout, diffPoll)
	ns.RemoveVolumesAfterDelete(e.docker)
	return &diffFixture{t: t, g: NewWithT(t), e: e, ctx: ns.Ctx, namespace: ns.Name, dir: t.TempDir()}
}

// write writes a manifest file of the test's directory.
func (f *diffFixture) write(name, content string) {
	f.t.Helper()
	f.g.Expect(os.WriteFile(filepath.Join(f.dir, name), []byte(content), 0o600)).To(Succeed())
}

// kubectl applies the test's directory as a user does.
func (f *diffFixture) apply() {
	f.t.Helper()
	bin := filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl")
	out, err := exec.Command(bin, "--kubeconfig", f.e.kubeconfig, "apply", "-n", f.namespace, "-f", f.dir).CombinedOutput()
	f.g.Expect(err).NotTo(HaveOccurred(), "kubectl apply: %s", out)
}

// diff runs kargo diff on the test's directory.
func (f *diffFixture) diff(extra ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	args := append([]string{"diff", "-f", f.dir, "-n", f.namespace, "--kubeconfig", f.e.kubeconfig}, extra...)
	code = Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

// waitReconciled waits until the Stack is Ready for its generation with
// services services ready.
func (f *diffFixture) waitReconciled(name string, services int) {
	f.t.Helper()
	f.g.Eventually(func(g Gomega) {
		stack := &kargov1.Stack{}
		g.Expect(f.e.k8s.Get(f.ctx, client.ObjectKey{Namespace: f.namespace, Name: name}, stack)).To(Succeed())
		g.Expect(stack.Status.ObservedGeneration).To(Equal(stack.Generation))
		var ready *metav1.Condition
		for i := range stack.Status.Conditions {
			if stack.Status.Conditions[i].Type == kargov1.ReadyCondition {
				ready = &stack.Status.Conditions[i]
			}
		}
		g.Expect(ready).NotTo(BeNil())
		g.Expect(ready.Status).To(Equal(metav1.ConditionTrue), ready.Message)
		g.Expect(stack.Status.ReadyServices).To(Equal(fmt.Sprintf("%d/%d", services, services)))
	}, diffTimeout, diffPoll).Should(Succeed())
}

// The Secret's values: neither may reach kargo diff's output, plain or in
// base64.
const (
	diffSecretOld = "kd-s3cret-one"
	diffSecretNew = "kd-s3cret-two"
)

func noDiffSecret(t *testing.T, text string) {
	t.Helper()
	for _, v := range []string{diffSecretOld, diffSecretNew} {
		for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
			if strings.Contains(text, form) {
				t.Errorf("kargo diff printed a Secret value (%q):\n%s", form, text)
			}
		}
	}
}

// diffManifests are a user's files: an Environment, a Secret, a Stack
// picking the redis catalog entry (on the local busybox) and a hand-written
// Service reading the Secret into its env.
func diffManifests(dockerHost, swarmNamespace, logLevel, secret string) map[string]string {
	return map[string]string{
		"env.yaml": fmt.Sprintf(`apiVersion: swarm.kargo.io/v1alpha1
kind: Environment
metadata: {name: local}
spec:
  endpoint: {host: %q}
  variables: {DOMAIN: example.org}
---
apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {password: %s}
`, dockerHost, secret),
		"stack.yaml": fmt.Sprintf(`apiVersion: swarm.kargo.io/v1alpha1
kind: Stack
metadata: {name: apps}
spec:
  environmentRef: {name: local}
  namespace: %s
  networks: [{name: back}]
  secrets: [{name: db-password, secretKeyRef: {name: db, key: password}}]
  services: [{name: cache, catalog: redis}]
  images: [{name: redis, newName: kargo.local/busybox, newTag: "1"}]
  patches:
  - target: {kind: Service, labelSelector: app.kubernetes.io/part-of=kargo-catalog}
    patch: |
      - op: add
        path: /spec/command
        value: [sh, -c, "touch /tmp/ok; exec sleep 3600"]
      - op: replace
        path: /spec/healthcheck
        value: {test: [CMD, test, -f, /tmp/ok], interval: 1s, timeout: 1s, retries: 2}
      - op: replace
        path: /spec/stopGracePeriod
        value: 1s
---
apiVersion: swarm.kargo.io/v1alpha1
kind: Service
metadata: {name: web}
spec:
  stackRef: {name: apps}
  image: kargo.local/busybox:1
  command: [sleep, "3600"]
  stopGracePeriod: 1s
  env:
  - {name: LOG_LEVEL, value: %s}
  - name: DB_PASSWORD
    valueFrom: {secretKeyRef: {name: db, key: password}}
  networks: [{name: back}]
  secrets: [{name: db-password}]
`, swarmNamespace, logLevel),
	}
}

// TestDiff: manifests applied with kubectl and reconciled onto the Swarm
// diff as nothing (exit 0, no output); a changed env value, a changed
// Secret value and a new Service diff as those changes, in the cluster and
// on the Swarm (exit 1), Secret values redacted; nothing is changed by
// kargo diff; errors exit 2.
func TestDiff(t *testing.T) {
	f := newDiffFixture(t)
	swarmNS := f.namespace + "-apps"
	for name, content := range diffManifests(f.e.dockerHost, swarmNS, "info", diffSecretOld) {
		f.write(name, content)
	}
	f.apply()
	f.waitReconciled("apps", 2)

	t.Run("no change", func(t *testing.T) {
		code, stdout, stderr := f.diff()
		noDiffSecret(t, stdout+stderr)
		if code != 0 || stdout != "" {
			t.Errorf("exit %d, want 0 and no output; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
	})

	t.Run("changes", func(t *testing.T) {
		for name, content := range diffManifests(f.e.dockerHost, swarmNS, "debug", diffSecretNew) {
			f.write(name, content)
		}
		f.write("worker.yaml", `apiVersion: swarm.kargo.io/v1alpha1
kind: Service
metadata: {name: worker}
spec:
  stackRef: {name: apps}
  image: kargo.local/busybox:1
  command: [sleep, "3600"]
`)
		code, stdout, stderr := f.diff()
		t.Logf("kargo diff:\n%s", stdout)
		noDiffSecret(t, stdout+stderr)
		if code != 1 {
			t.Errorf("exit %d, want 1; stderr:\n%s", code, stderr)
		}
		for _, want := range []string{
			fmt.Sprintf("Service %s/web: changed\n  spec.env[LOG_LEVEL].value: \"info\" → \"debug\"\n", f.namespace),
			fmt.Sprintf("Secret %s/db: changed\n  data.password: <redacted> → <redacted>\n", f.namespace),
			fmt.Sprintf("Service %s/worker: created\n", f.namespace),
			fmt.Sprintf("Swarm service %s_worker: created\n", swarmNS),
			fmt.Sprintf("Swarm secret %s_db-password-", swarmNS),
			fmt.Sprintf("Swarm service %s_web: changed\n", swarmNS),
			`  TaskTemplate.ContainerSpec.Env[DB_PASSWORD]: <redacted> → <redacted>` + "\n",
			`  TaskTemplate.ContainerSpec.Env[LOG_LEVEL]: "info" → "debug"` + "\n",
		} {
			if !strings.Contains(stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, stdout)
			}
		}
		// The rendered Service and its Swarm service did not change.
		for _, unchanged := range []string{"/cache", "_cache"} {
			if strings.Contains(stdout, unchanged+":") {
				t.Errorf("stdout reports %s, which did not change:\n%s", unchanged, stdout)
			}
		}
		// kargo diff changed nothing.
		web := &kargov1.Service{}
		f.g.Expect(f.e.k8s.Get(f.ctx, client.ObjectKey{Namespace: f.namespace, Name: "web"}, web)).To(Succeed())
		f.g.Expect(web.Spec.Env[0].Value).To(Equal("info"))
		err := f.e.k8s.Get(f.ctx, client.ObjectKey{Namespace: f.namespace, Name: "worker"}, &kargov1.Service{})
		f.g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "kargo diff created Service worker: %v", err)
		live, _, err := f.e.docker.ServiceInspectWithRaw(f.ctx, swarmNS+"_web", dockerswarm.ServiceInspectOptions{})
		f.g.Expect(err).NotTo(HaveOccurred())
		f.g.Expect(live.Spec.TaskTemplate.ContainerSpec.Env).To(ContainElement("LOG_LEVEL=info"))
	})

	t.Run("policy denied", func(t *testing.T) {
		f.write("snoop.yaml", `apiVersion: swarm.kargo.io/v1alpha1
kind: Service
metadata: {name: snoop}
spec:
  stackRef: {name: apps}
  image: kargo.local/busybox:1
  mounts: [{type: bind, source: /, target: /host}]
`)
		code, stdout, stderr := f.diff()
		want := fmt.Sprintf("Stack %s/apps: denied by the Environment's policy (PolicyDenied): nothing would change on the Swarm\n"+
			"  service snoop: mounts[0].source \"/\": host path not allowed by the Environment's policy (spec.policy.allowedHostPaths: none)\n", f.namespace)
		if code != 1 || !strings.Contains(stdout, want) {
			t.Errorf("exit %d, want 1 and %q; stdout:\n%s\nstderr:\n%s", code, want, stdout, stderr)
		}
		// The Swarm services of a denied Stack are not compared.
		if strings.Contains(stdout, "Swarm service ") {
			t.Errorf("stdout compares the Swarm services of a denied Stack:\n%s", stdout)
		}
		f.g.Expect(os.Remove(filepath.Join(f.dir, "snoop.yaml"))).To(Succeed())
	})

	t.Run("errors exit 2", func(t *testing.T) {
		code, stdout, stderr := f.diff("-f", filepath.Join(f.dir, "missing.yaml"))
		if code != 2 || stdout != "" || !strings.Contains(stderr, "missing.yaml") {
			t.Errorf("missing file: exit %d, want 2, no stdout and the file named; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		code, _, stderr = f.diff("--no-such-flag")
		if code != 2 {
			t.Errorf("unknown flag: exit %d, want 2; stderr:\n%s", code, stderr)
		}
	})
}
