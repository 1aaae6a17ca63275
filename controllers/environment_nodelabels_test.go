package controllers_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/testenv"
)

// TestNodeLabels: spec.nodeLabels are added and updated on the node named by
// hostname; labels the Environment set are removed when no longer wanted or
// when the Environment is deleted; a label set by someone else is never
// touched; an unknown hostname is reported without failing the Environment.
func TestNodeLabels(t *testing.T) {
	f := newFixture(t)
	node, original := f.nodeLabels()
	hostname := node.Description.Hostname

	// A label somebody set by hand; the node gets its own labels back at the end.
	spec := node.Spec
	spec.Labels = map[string]string{"team": "maps"}
	for k, v := range original {
		spec.Labels[k] = v
	}
	f.g.Expect(docker.NodeUpdate(f.ctx, node.ID, node.Version, spec)).To(Succeed())
	t.Cleanup(func() {
		node, _ := f.nodeLabels()
		spec := node.Spec
		spec.Labels = original
		f.g.Expect(docker.NodeUpdate(f.ctx, node.ID, node.Version, spec)).To(Succeed())
	})
	withHand := func(labels map[string]string) map[string]string {
		out := map[string]string{"team": "maps"}
		for k, v := range original {
			out[k] = v
		}
		for k, v := range labels {
			out[k] = v
		}
		return out
	}
	// ownLabels are the node's labels without the Environment's record.
	ownLabels := func() map[string]string {
		_, labels := f.nodeLabels()
		delete(labels, "swarm.kargo.io/managed-labels."+f.namespace+".local")
		return labels
	}

	f.Update(f.env, func() {
		f.env.Spec.NodeLabels = []kargov1.NodeLabels{
			{Hostname: hostname, Labels: map[string]string{"zone": "a", "postgis": "true"}},
			{Hostname: "worker-gone", Labels: map[string]string{"zone": "b"}},
		}
	})
	f.g.Eventually(ownLabels, timeout, poll).Should(Equal(withHand(map[string]string{"zone": "a", "postgis": "true"})))
	f.Eventually(f.env, func(g Gomega) {
		g.Expect(testenv.ExpectReady(g, f.env)).To(ContainSubstring("nodeLabels name unknown node(s): worker-gone"))
		g.Expect(f.env.Status.MissingNodes).To(Equal([]string{"worker-gone"}))
	})

	// Update one, drop one.
	f.Update(f.env, func() {
		f.env.Spec.NodeLabels = []kargov1.NodeLabels{{Hostname: hostname, Labels: map[string]string{"zone": "b"}}}
	})
	f.g.Eventually(ownLabels, timeout, poll).Should(Equal(withHand(map[string]string{"zone": "b"})))
	f.Eventually(f.env, func(g Gomega) {
		testenv.ExpectReady(g, f.env)
		g.Expect(f.env.Status.MissingNodes).To(BeEmpty())
	})

	// None wanted any more: only the foreign labels stay.
	f.Update(f.env, func() { f.env.Spec.NodeLabels = nil })
	f.g.Eventually(func() map[string]string { _, l := f.nodeLabels(); return l }, timeout, poll).Should(Equal(withHand(nil)))

	// Deleting an Environment removes the labels it set.
	f.Update(f.env, func() {
		f.env.Spec.NodeLabels = []kargov1.NodeLabels{{Hostname: hostname, Labels: map[string]string{"zone": "c"}}}
	})
	f.g.Eventually(ownLabels, timeout, poll).Should(Equal(withHand(map[string]string{"zone": "c"})))
	f.g.Expect(k8s.Delete(f.ctx, f.env)).To(Succeed())
	f.g.Eventually(func() map[string]string { _, l := f.nodeLabels(); return l }, timeout, poll).Should(Equal(withHand(nil)))
	t.Logf("labels after the Environment's deletion: %v", withHand(nil))
}

// TestNodeLabelConflict: two Environments of one Swarm want zone=a and
// zone=b on the same node. The first keeps its label; the second reports
// the conflict (condition NodeLabels=False, reason NodeLabelConflict), the
// first gets a Warning event naming the second, and the node is not
// updated back and forth: at most one update each over 30 s.
func TestNodeLabelConflict(t *testing.T) {
	f := newFixture(t)
	node, _ := f.nodeLabels()
	hostname := node.Description.Hostname
	f.Update(f.env, func() {
		f.env.Spec.NodeLabels = []kargov1.NodeLabels{{Hostname: hostname, Labels: map[string]string{"zone": "a"}}}
	})
	f.g.Eventually(func() map[string]string { _, l := f.nodeLabels(); return l }, timeout, poll).Should(HaveKeyWithValue("zone", "a"))

	second := &kargov1.Environment{
		ObjectMeta: metav1.ObjectMeta{Name: "second", Namespace: f.namespace},
		Spec: kargov1.EnvironmentSpec{
			Endpoint:   kargov1.Endpoint{Host: dockerHost},
			NodeLabels: []kargov1.NodeLabels{{Hostname: hostname, Labels: map[string]string{"zone": "b", "second": "true"}}},
		},
	}
	f.Create(second)
	f.Eventually(second, func(g Gomega) {
		testenv.ExpectReady(g, second)
		msg := testenv.ExpectCondition(g, second, kargov1.NodeLabelsCondition, metav1.ConditionFalse, kargov1.NodeLabelConflictReason)
		g.Expect(msg).To(ContainSubstring("zone=b is held by " + f.namespace + ".local"))
	})
	f.g.Eventually(func() []string { return f.Events(f.g, f.env) }, timeout, poll).Should(ContainElement(
		ContainSubstring("NodeLabelConflict: node " + hostname + ": " + f.namespace + ".second wants zone=b")))

	updates := func() float64 {
		n := 0.0
		for _, env := range []string{"local", "second"} {
			n += metricSum(f, "kargo_engine_requests_total", map[string]string{"environment": f.namespace + "/" + env, "operation": "POST /nodes/{id}/update"})
		}
		return n
	}
	before := updates()
	time.Sleep(scaled(30 * time.Second))
	f.g.Expect(updates()-before).To(BeNumerically("<=", 2), "node updates in 30 s")
	_, labels := f.nodeLabels()
	f.g.Expect(labels).To(HaveKeyWithValue("zone", "a"))
	f.g.Expect(labels).To(HaveKeyWithValue("second", "true"), "the labels without conflict are set")
	f.Eventually(f.env, func(g Gomega) {
		testenv.ExpectCondition(g, f.env, kargov1.NodeLabelsCondition, metav1.ConditionTrue, "")
	})
}
