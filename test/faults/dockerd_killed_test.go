//go:build faults

package faults

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// TestDockerdKilled: the Swarm's dockerd (and its containerd) is killed
// with SIGKILL in the middle of applying a 20-service Stack, then started
// again on the same data root. Meanwhile the Environment is Unreachable
// and the Stack waits for it; afterwards it converges: all 20 services once, no orphan, the volume
// kept.
func TestDockerdKilled(t *testing.T) {
	parallelWithManager(t)
	f := newFixture(t, crashDockerd.Client(), crashDockerd.Host)
	f.environmentReady()
	f.deploy(20)
	created := f.inTheMiddle(20)
	f.g.Expect(crashDockerd.Kill()).To(Succeed())
	t.Logf("dockerd killed with %d of 20 services created", created)

	f.unreachableWhileDown()
	restart := time.Now()
	f.g.Expect(crashDockerd.Restart()).To(Succeed())
	t.Logf("dockerd restarted in %.1fs", time.Since(restart).Seconds())
	f.Eventually(f.stack, f.converged)
	f.recovered(restart, "dockerd restarted (kill -9 mid-apply) to the 20-service Stack Ready")
}
