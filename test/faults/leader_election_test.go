//go:build faults

package faults

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// TestLeaderElection: two kargo manager processes with --leader-elect;
// only the leader writes to the Engine (kargo_engine_requests_total of
// each process, operations other than GET). The leader is killed: the
// other takes the Lease over and applies the next change.
func TestLeaderElection(t *testing.T) {
	election := []string{"--leader-elect", "--leader-election-namespace", "default"}
	managers := []*managerProcess{startManager(t, "a", true, election...), startManager(t, "b", true, election...)}
	var leader, follower *managerProcess
	NewWithT(t).Eventually(func(g Gomega) {
		a, b := leading(managers[0].metrics(g)), leading(managers[1].metrics(g))
		g.Expect(a != b).To(BeTrue(), "leaders: a %v, b %v", a, b)
		leader, follower = managers[0], managers[1]
		if b {
			leader, follower = follower, leader
		}
	}, timeout, poll).Should(Succeed())
	t.Logf("manager %s leads", leader.name)

	f := newFixture(t, dockerd.Client(), dockerd.Host)
	f.deployReady(3)
	f.g.Eventually(func(g Gomega) {
		g.Expect(engineWrites(leader.metrics(g))).To(BeNumerically(">=", 6), "the leader's writes: a network, a config, a secret, 3 services")
		g.Expect(engineWrites(follower.metrics(g))).To(BeZero(), "the follower's writes")
	}, timeout, poll).Should(Succeed())

	leader.kill()
	killed := time.Now()
	f.setVersion("d01", "2")
	f.Eventually(f.stack, func(g Gomega) {
		f.converged(g)
		f.envValue(g, "d01", "2")
		samples := follower.metrics(g)
		g.Expect(leading(samples)).To(BeTrue())
		g.Expect(engineWrites(samples)).To(BeNumerically(">=", 1))
	})
	f.recovered(killed, "leader killed to the other manager leading and a change applied")
}
