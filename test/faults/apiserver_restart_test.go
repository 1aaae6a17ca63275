//go:build faults

package faults

import (
	"syscall"
	"testing"
	"time"

	"github.com/kargo-io/kargo/internal/testenv"
	. "github.com/onsi/gomega"
)

// TestAPIServerRestarted: kube-apiserver is killed (SIGKILL) under a
// running manager process and starts again (same etcd, port and
// certificates). A service removed by hand meanwhile is back, a change made
// after the restart is applied, and the manager never exited.
func TestAPIServerRestarted(t *testing.T) {
	m := startManager(t, "manager", false)
	f := newFixture(t, dockerd.Client(), dockerd.Host)
	f.deployReady(3)
	pid := m.pid()

	// Killed rather than stopped: a graceful stop waits for the manager's
	// watches to drain, beyond envtest's stop timeout.
	server := apiServer.ControlPlane.GetAPIServer()
	pids := testenv.Processes("--cert-dir=" + server.CertDir + " ")
	f.g.Expect(pids).To(HaveLen(1), "kube-apiserver processes")
	stopped := time.Now()
	f.g.Expect(syscall.Kill(pids[0], syscall.SIGKILL)).To(Succeed())
	// Stop forgets the process once it has seen it exit.
	f.g.Eventually(server.Stop, timeout, poll).Should(Succeed())
	f.removeByHand("w01")
	f.g.Expect(server.Start()).To(Succeed())
	up := time.Now()
	t.Logf("kube-apiserver down for %.1fs (killed, restarted)", up.Sub(stopped).Seconds())

	f.setVersion("d01", "2")
	f.Eventually(f.stack, func(g Gomega) {
		f.converged(g)
		f.envValue(g, "d01", "2")
	})
	f.recovered(up, "kube-apiserver back (SIGKILL, restarted) to the service removed meanwhile recreated and a new change applied")
	f.g.Expect(m.pid()).To(Equal(pid), "the manager process exited")
}
