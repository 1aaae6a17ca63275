//go:build faults

package faults

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/kargo-io/kargo/internal/testenv"
)

// managerProcess is a `kargo manager` process of the binary built from
// this checkout, on the suite's API server (through a kubeconfig). Its
// cleanup, registered once when it is created, stops it after whatever
// the test registers later (a fixture's Stack deletion needs a manager).
type managerProcess struct {
	t    *testing.T
	name string
	args []string
	// metricsAddr is 127.0.0.1:<port>, or "" without metrics.
	metricsAddr string
	logPath     string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited <-chan struct{}
}

// startManager starts kargo manager with args after its own metrics and
// probe flags; withMetrics serves metrics on a free loopback port.
func startManager(t *testing.T, name string, withMetrics bool, args ...string) *managerProcess {
	t.Helper()
	m := &managerProcess{t: t, name: name, metricsAddr: "0", logPath: filepath.Join(t.TempDir(), name+".log")}
	if withMetrics {
		addr, err := testenv.FreeLoopbackAddr()
		if err != nil {
			t.Fatal(err)
		}
		m.metricsAddr = addr
	}
	// No admission webhook: these cases promote nothing, and the API
	// server calls the in-test manager's (testmanager.Start).
	m.args = append([]string{"manager", "--metrics-bind-address", m.metricsAddr, "--health-probe-bind-address", "0", "--webhook-port", "0"}, args...)
	t.Cleanup(func() {
		m.stop()
		if t.Failed() {
			t.Logf("last lines of manager %s's log:\n%s", m.name, testenv.LogTail(m.logPath, 40))
		}
	})
	m.start()
	return m
}

// start runs the process again, after kill.
func (m *managerProcess) start() {
	m.t.Helper()
	cmd := exec.Command(kargoBin, m.args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	exited, err := testenv.StartChild(cmd, m.logPath)
	if err != nil {
		m.t.Fatalf("start manager %s: %v", m.name, err)
	}
	m.mu.Lock()
	m.cmd, m.exited = cmd, exited
	m.mu.Unlock()
}

// kill sends SIGKILL, as a node losing power or the OOM killer would, and
// waits until the process is gone.
func (m *managerProcess) kill() {
	m.t.Helper()
	if !m.signal(syscall.SIGKILL, 10*time.Second) {
		m.t.Fatalf("manager %s did not exit on SIGKILL", m.name)
	}
}

// stop ends the process (SIGTERM, then SIGKILL).
func (m *managerProcess) stop() {
	if !m.signal(syscall.SIGTERM, 30*time.Second) && !m.signal(syscall.SIGKILL, 10*time.Second) {
		m.t.Errorf("manager %s did not exit", m.name)
	}
}

// signal sends sig unless the process has exited, and waits at most limit
// for it to exit.
func (m *managerProcess) signal(sig syscall.Signal, limit time.Duration) bool {
	m.mu.Lock()
	cmd, exited := m.cmd, m.exited
	m.mu.Unlock()
	select {
	case <-exited:
		return true
	default:
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
		return true
	case <-time.After(limit):
		return false
	}
}

// pid is the running process's id, 0 once it exited.
func (m *managerProcess) pid() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	select {
	case <-m.exited:
		return 0
	default:
		return m.cmd.Process.Pid
	}
}

// metrics reads the process's metrics endpoint: value by series, as
// printed (`name{a="b"}`).
func (m *managerProcess) metrics(g Gomega) map[string]float64 {
	samples, err := testenv.ScrapeMetrics("http://" + m.metricsAddr + "/metrics")
	g.Expect(err).NotTo(HaveOccurred())
	return samples
}

// engineWrites sums kargo_engine_requests_total over the operations that
// are not GET (creates, updates, removes), answered or not.
func engineWrites(samples map[string]float64) float64 {
	total := 0.0
	for name, v := range samples {
		if strings.HasPrefix(name, "kargo_engine_requests_total{") && !strings.Contains(name, `operation="GET `) {
			total += v
		}
	}
	return total
}

// leading tells whether the process holds the leader election Lease.
func leading(samples map[string]float64) bool {
	return samples[`leader_election_master_status{name="kargo-manager.swarm.kargo.io"}`] == 1
}
