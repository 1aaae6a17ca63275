//go:build faults

package faults

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// TestEventStreamCut: the Docker event stream is cut for 60 s (the rest of
// the API answers; resync interval 1h) and a service is removed by hand.
// Every reconnection attempt reconciles the Environment's Stacks (events
// missed meanwhile are not replayed), so the service is back within the
// cut; once the stream is back, a removal is undone through its events.
func TestEventStreamCut(t *testing.T) {
	parallelWithManager(t)
	p := startProxy(t, dockerd.Host)
	f := newFixture(t, dockerd.Client(), p.Host)
	f.deployReady(3)
	f.g.Eventually(p.eventStreams, timeout, poll).Should(Equal(1), "event streams through the proxy")

	p.cutEvents()
	cut := time.Now()
	f.removeByHand("w01")
	f.Eventually(f.stack, func(g Gomega) {
		f.converged(g)
		g.Expect(p.refused.Load()).To(BeNumerically(">=", 1), "no reconnection refused: the stream was not cut")
	})
	f.recovered(cut, "service removed by hand while the event stream is cut to recreated (first reconnection attempt)")
	// The cut lasts its full length whatever the manager does.
	time.Sleep(time.Until(cut.Add(outage)))
	p.restoreEvents()
	restored := time.Now()
	f.g.Eventually(p.eventStreams, timeout, poll).Should(Equal(1), "event stream not reopened")
	t.Logf("event stream reopened %.1fs after the cut ended (%d attempts refused)", time.Since(restored).Seconds(), p.refused.Load())

	removed := time.Now()
	f.removeByHand("d01")
	f.Eventually(f.stack, f.converged)
	f.recovered(removed, "service removed by hand after the stream reopened to recreated (events)")
}
