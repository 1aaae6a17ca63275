package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kargo-io/kargo/internal/testenv"
)

// manager is a kargo manager process run against the bench's API server.
type manager struct {
	cmd        *exec.Cmd
	metricsURL string
	pprofURL   string
	log        *os.File
}

// startManager runs `kargo manager` with the bench's extra flags, its log
// in out/manager-<label>.log, and waits until its metrics answer.
func (b *bench) startManager(ctx context.Context, label string) (*manager, error) {
	metricsAddr, err := testenv.FreeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	pprofAddr, err := testenv.FreeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(b.cfg.out, "manager-"+label+".log"))
	if err != nil {
		return nil, err
	}
	// No admission webhook: the benchmark promotes nothing.
	args := append([]string{"manager", "--metrics-bind-address", metricsAddr, "--health-probe-bind-address", "0",
		"--pprof-bind-address", pprofAddr, "--webhook-port", "0"}, b.cfg.managerFlags...)
	cmd := exec.Command(b.cfg.kargoBin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+b.kubeconfig)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start manager: %w", err)
	}
	m := &manager{cmd: cmd, metricsURL: "http://" + metricsAddr + "/metrics", pprofURL: "http://" + pprofAddr + "/debug/pprof", log: log}
	if err := poll(ctx, time.Minute, 100*time.Millisecond, func() (bool, error) {
		_, err := m.metrics()
		return err == nil, nil
	}); err != nil {
		m.stop()
		return nil, fmt.Errorf("manager metrics at %s: %w", m.metricsURL, err)
	}
	return m, nil
}

func (m *manager) stop() {
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = m.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = m.cmd.Process.Kill()
		<-done
	}
	m.log.Close()
}

// metrics scrapes the manager's metrics: value by series
// (`name{label="value",...}` as the endpoint prints it).
func (m *manager) metrics() (metrics, error) {
	return testenv.ScrapeMetrics(m.metricsURL)
}

// profile writes a CPU profile of the next seconds to path.
func (m *manager) profile(seconds int, path string) error {
	resp, err := http.Get(fmt.Sprintf("%s/profile?seconds=%d", m.pprofURL, seconds))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

// memory returns the manager's resident set size now and at its peak, in MiB.
func (m *manager) memory() (rss, peak float64) {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", m.cmd.Process.Pid))
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return rss, peak
}

// metrics are scraped series and their values.
type metrics map[string]float64

// sum adds the series of name whose labels contain every one of match
// (`key="value"` strings).
func (ms metrics) sum(name string, match ...string) float64 {
	total := 0.0
	for series, v := range ms {
		n, labels, _ := strings.Cut(series, "{")
		if n != name {
			continue
		}
		ok := true
		for _, m := range match {
			if !strings.Contains(labels, m) {
				ok = false
				break
			}
		}
		if ok {
			total += v
		}
	}
	return total
}

// minus is ms - before, series by series.
func (ms metrics) minus(before metrics) metrics {
	out := metrics{}
	for k, v := range ms {
		out[k] = v - before[k]
	}
	return out
}

// top sums the series of name by the values of keys (e.g. verb, resource,
// subresource) and lists the n largest sums, "VERB resource/sub 1234", with
// the total of all.
func (ms metrics) top(name string, n int, keys ...string) string {
	sums := map[string]float64{}
	total := 0.0
	for series, v := range ms {
		metric, labels, _ := strings.Cut(series, "{")
		if metric != name || v == 0 {
			continue
		}
		var parts []string
		for _, k := range keys {
			// "," first: resource must not match subresource.
			if _, rest, ok := strings.Cut(","+labels, ","+k+`="`); ok {
				value, _, _ := strings.Cut(rest, `"`)
				if value != "" {
					parts = append(parts, value)
				}
			}
		}
		sums[strings.Join(parts, " ")] += v
		total += v
	}
	groups := slices.Collect(maps.Keys(sums))
	slices.SortFunc(groups, func(a, b string) int { return cmp.Compare(sums[b], sums[a]) })
	out := make([]string, 0, n+1)
	for _, g := range groups[:min(n, len(groups))] {
		out = append(out, fmt.Sprintf("%s %.0f", g, sums[g]))
	}
	return fmt.Sprintf("%.0f in all; %s", total, strings.Join(out, ", "))
}
