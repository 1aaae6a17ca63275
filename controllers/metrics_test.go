package controllers_test

import (
	"testing"

	. "github.com/onsi/gomega"
)

// TestMetricsEndpoint scrapes the running manager's metrics endpoint after a
// Stack converged, and after a drift was corrected, and finds Kargo's
// metrics next to controller-runtime's.
func TestMetricsEndpoint(t *testing.T) {
	f := newFixture(t)
	stack := f.stackWith("scraped", sleeper("web"))
	f.waitStackReady(stack, 1)

	stackLabels := `namespace="` + f.namespace + `",stack="scraped"`
	env := `environment="` + f.namespace + `/local"`
	f.scrape(
		`kargo_stack_ready{`+stackLabels+`} 1`,
		`kargo_engine_requests_total{code="201",`+env+`,operation="POST /services/create"} 1`,
		`kargo_engine_request_duration_seconds_bucket{`+env+`,operation="GET /services"`,
		// One Stack of the namespace became Ready once.
		`kargo_stack_convergence_seconds_count{namespace="`+f.namespace+`"} 1`,
		`kargo_engine_event_stream_connected{`+env+`} 1`,
		`kargo_stack_reconcile_duration_seconds_count{`+stackLabels+`}`,
		`controller_runtime_reconcile_total{controller="stack"`,
	)

	svc := f.swarmServiceIn("scraped", "web")
	f.g.Expect(docker.ServiceRemove(f.ctx, svc.ID)).To(Succeed())
	f.scrape(`kargo_drift_corrections_total{kind="service",` + stackLabels + `} 1`)
}
