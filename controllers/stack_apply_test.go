package controllers_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// kubectl runs the kubectl that hack/envtest-assets.sh builds beside
// kube-apiserver against the test API server, and returns its output.
func (f *fixture) kubectl(args ...string) (string, error) {
	f.t.Helper()
	bin := filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl")
	if _, err := os.Stat(bin); err != nil {
		f.t.Fatalf("kubectl missing in KUBEBUILDER_ASSETS: run hack/envtest-assets.sh (it builds kubectl with kube-apiserver): %v", err)
	}
	out, err := exec.CommandContext(f.ctx, bin, append([]string{"--kubeconfig", kubeconfig, "-n", f.namespace}, args...)...).CombinedOutput()
	return string(out), err
}

// stackManifest is one file holding a Stack and its three Services, as a
// user writes it.
func stackManifest(name, swarmNamespace, environment string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: swarm.kargo.io/v1alpha1
kind: Stack
metadata: {name: %s}
spec:
  environmentRef: {name: %s}
  namespace: %s
  networks: [{name: back}]
`, name, environment, swarmNamespace)
	for _, svc := range []string{"api", "web", "worker"} {
		fmt.Fprintf(&b, `---
apiVersion: swarm.kargo.io/v1alpha1
kind: Service
metadata: {name: %s-%s}
spec:
  stackRef: {name: %s}
  image: kargo.local/busybox:1
  command: [sleep, "3600"]
  networks: [{name: back}]
  stopGracePeriod: 1s
`, name, svc, name)
	}
	return b.String()
}

// TestApplyThenWait works as a user does: `kubectl apply -f` of one file
// holding a Stack and its three Services, then at once `kubectl wait
// --for=condition=Ready`. When the wait returns, all three services' tasks
// run: the Stack never reports Ready for Services it has not seen yet.
// Twenty rounds, each with a new Stack (KARGO_APPLY_ROUNDS changes the
// count while working on this test), then `kubectl delete -f` of them all.
func TestApplyThenWait(t *testing.T) {
	rounds := 20
	if v := os.Getenv("KARGO_APPLY_ROUNDS"); v != "" {
		rounds, _ = strconv.Atoi(v)
	}
	f := newFixture(t)
	dir := t.TempDir()
	for round := range rounds {
		name := fmt.Sprintf("apply-%d", round)
		swarmNamespace := f.namespace + "-" + name
		file := filepath.Join(dir, name+".yaml")
		f.g.Expect(os.WriteFile(file, []byte(stackManifest(name, swarmNamespace, f.env.Name)), 0o600)).To(Succeed())

		start := time.Now()
		out, err := f.kubectl("apply", "-f", file)
		f.g.Expect(err).NotTo(HaveOccurred(), "kubectl apply: %s", out)
		out, err = f.kubectl("wait", "--for=condition=Ready", "stack/"+name, fmt.Sprintf("--timeout=%ds", int(timeout.Seconds())))
		f.g.Expect(err).NotTo(HaveOccurred(), "kubectl wait: %s", out)

		// Read once, right after the wait: Ready must already mean this.
		running, err := runningTasks(f.ctx, swarmNamespace)
		f.g.Expect(err).NotTo(HaveOccurred())
		f.g.Expect(running).To(Equal(3), "round %d: kubectl wait returned with %d of 3 tasks running", round, running)
		out, err = f.kubectl("get", "stack/"+name, "-o", "jsonpath={.status.readyServices}")
		f.g.Expect(err).NotTo(HaveOccurred(), out)
		f.g.Expect(out).To(Equal("3/3"))

		t.Logf("round %2d: Ready %s after kubectl apply", round, time.Since(start).Round(time.Millisecond))
	}

	// All at once, as `kubectl delete -f DIR` does: when it returns, the
	// Stacks' finalizers have removed every Swarm service.
	start := time.Now()
	out, err := f.kubectl("delete", "-f", dir, fmt.Sprintf("--timeout=%ds", int(timeout.Seconds())))
	f.g.Expect(err).NotTo(HaveOccurred(), "kubectl delete: %s", out)
	for round := range rounds {
		f.g.Expect(f.stackServices(fmt.Sprintf("%s-apply-%d", f.namespace, round))).To(BeZero(), "services of round %d left after kubectl delete returned", round)
	}
	t.Logf("%d Stacks deleted in %s", rounds, time.Since(start).Round(time.Millisecond))
}
