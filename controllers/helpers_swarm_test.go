package controllers_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"
	dockerswarm "github.com/docker/docker/api/types/swarm"
	. "github.com/onsi/gomega"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// Helpers that read the Swarm and the manager's metrics.

// swarmService inspects the Swarm service <test namespace>_<name>.
func (f *fixture) swarmService(name string) dockerswarm.Service {
	f.t.Helper()
	svc, _, err := docker.ServiceInspectWithRaw(f.ctx, f.namespace+"_"+name, dockerswarm.ServiceInspectOptions{})
	f.g.Expect(err).NotTo(HaveOccurred())
	return svc
}

// swarmServiceIn inspects the service name of the stackWith Stack stack.
func (f *fixture) swarmServiceIn(stack, name string) dockerswarm.Service {
	f.t.Helper()
	svc, _, err := docker.ServiceInspectWithRaw(f.ctx, f.namespace+"-"+stack+"_"+name, dockerswarm.ServiceInspectOptions{})
	f.g.Expect(err).NotTo(HaveOccurred())
	return svc
}

// stackServices counts the Swarm services of a stack namespace.
func (f *fixture) stackServices(namespace string) int {
	f.t.Helper()
	list, err := docker.ServiceList(f.ctx, dockerswarm.ServiceListOptions{Filters: filters.NewArgs(filters.Arg("label", kargov1.StackNamespaceLabel+"="+namespace))})
	f.g.Expect(err).NotTo(HaveOccurred())
	return len(list)
}

// runningTasks counts the running tasks of a stack namespace.
func runningTasks(ctx context.Context, namespace string) (int, error) {
	tasks, err := docker.TaskList(ctx, dockerswarm.TaskListOptions{Filters: filters.NewArgs(
		filters.Arg("label", kargov1.StackNamespaceLabel+"="+namespace), filters.Arg("desired-state", "running"))})
	n := 0
	for _, t := range tasks {
		if t.Status.State == dockerswarm.TaskStateRunning {
			n++
		}
	}
	return n, err
}

// nodeLabels reads the labels of the local Swarm's only node.
func (f *fixture) nodeLabels() (dockerswarm.Node, map[string]string) {
	f.t.Helper()
	nodes, err := docker.NodeList(f.ctx, dockerswarm.NodeListOptions{})
	f.g.Expect(err).NotTo(HaveOccurred())
	f.g.Expect(nodes).To(HaveLen(1))
	return nodes[0], nodes[0].Spec.Labels
}

func containAll(parts []string) []OmegaMatcher {
	matchers := make([]OmegaMatcher, 0, len(parts))
	for _, p := range parts {
		matchers = append(matchers, ContainSubstring(p))
	}
	return matchers
}

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
			total += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	return total
}

// engineRequests counts the fixture Environment's requests of one operation.
func engineRequests(f *fixture, operation string) float64 {
	return metricSum(f, "kargo_engine_requests_total", map[string]string{"environment": f.namespace + "/" + f.env.Name, "operation": operation})
}

// scrape reads the running manager's metrics endpoint until it shows every
// one of want.
func (f *fixture) scrape(want ...string) string {
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
		g.Expect(body).To(SatisfyAll(containAll(want)...))
	}, timeout, poll).Should(Succeed())
	return body
}

// httpGet reads a URL on the loopback interface (host-mode ports only).
func httpGet(url string) (string, error) {
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		panic("tests only reach services through 127.0.0.1")
	}
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}
