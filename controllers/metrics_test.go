package controllers_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/docker/docker/api/types/image"
	. "github.com/onsi/gomega"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// metricSum sums the samples of a metric of the manager's registry whose
// labels include match.
func metricSum(f *fixture, name string, match map[string]string) float64 {
	families, err := ctrlmetrics.Registry.Gather()
	f.g.Expect(err).NotTo(HaveOccurred())
	total := 0.0
	for _, family := range families {
		if family.GetName() != name {
			continue
		}
	samples:
		for _, m := range family.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range match {
				if labels[k] != v {
					continue samples
				}
			}
			total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return total
}

// engineRequests counts the fixture Environment's requests of one operation.
func engineRequests(f *fixture, operation string) float64 {
	return metricSum(f, "kargo_engine_requests_total", map[string]string{"environment": f.namespace + "/" + f.env.Name, "operation": operation})
}

func imageRemoveOptions() image.RemoveOptions { return image.RemoveOptions{} }

// scrape reads the running manager's metrics endpoint until it shows want.
func (f *fixture) scrape(want string) string {
	f.t.Helper()
	var body string
	f.g.Eventually(func(g Gomega) {
		resp, err := http.Get(metricsURL)
		g.Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
		data, err := io.ReadAll(resp.Body)
		g.Expect(err).NotTo(HaveOccurred())
		body = string(data)
		g.Expect(body).To(ContainSubstring(want))
	}, timeout, poll).Should(Succeed())
	return body
}

// TestMetricsEndpoint scrapes the running manager's metrics endpoint after a
// Stack converged, and after a drift was corrected, and finds Kargo's
// metrics next to controller-runtime's.
func TestMetricsEndpoint(t *testing.T) {
	f := newFixture(t)
	stack := f.stackWith("scraped", sleeper("web"))
	f.waitReady(stack)

	stackLabels := `namespace="` + f.namespace + `",stack="scraped"`
	env := `environment="` + f.namespace + `/local"`
	body := f.scrape(`kargo_stack_ready{` + stackLabels + `} 1`)
	for _, want := range []string{
		`kargo_engine_requests_total{code="201",` + env + `,operation="POST /services/create"} 1`,
		`kargo_engine_request_duration_seconds_bucket{` + env + `,operation="GET /services"`,
		`kargo_stack_convergence_seconds_count{namespace="` + f.namespace + `"} 1`,
		`kargo_engine_event_stream_connected{` + env + `} 1`,
		`controller_runtime_reconcile_total{controller="stack"`,
	} {
		f.g.Expect(body).To(ContainSubstring(want))
	}

	svc := f.swarmServiceIn("scraped", "web")
	f.g.Expect(docker.ServiceRemove(f.ctx, svc.ID)).To(Succeed())
	f.scrape(`kargo_drift_corrections_total{kind="service",` + stackLabels + `} 1`)
}
