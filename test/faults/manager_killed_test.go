//go:build faults

package faults

import (
	"testing"
	"time"
)

// TestManagerKilled: a kargo manager process is killed (SIGKILL) in the
// middle of a Stack's reconcile and started again: it finishes the Stack
// without creating anything twice.
func TestManagerKilled(t *testing.T) {
	m := startManager(t, "manager", false)
	f := newFixture(t, dockerd.Client(), dockerd.Host)
	f.environmentReady()
	f.deploy(10)
	created := f.inTheMiddle(10)
	m.kill()
	t.Logf("manager killed with %d of 10 services created", created)

	restart := time.Now()
	m.start()
	f.Eventually(f.stack, f.converged)
	f.recovered(restart, "manager process restarted (SIGKILL mid-reconcile) to the 10-service Stack Ready")
}
