package controllers_test

import (
	"testing"

	"github.com/docker/docker/api/types/swarm"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// nodeLabels reads the labels of the local Swarm's only node.
func (f *fixture) nodeLabels() (swarm.Node, map[string]string) {
	f.t.Helper()
	nodes, err := docker.NodeList(f.ctx, swarm.NodeListOptions{})
	f.g.Expect(err).NotTo(HaveOccurred())
	f.g.Expect(nodes).To(HaveLen(1))
	return nodes[0], nodes[0].Spec.Labels
}

// TestNodeLabels: spec.nodeLabels are added and updated on the node named by
// hostname; labels the Environment set are removed when no longer wanted;
// a label set by someone else is never touched; an unknown hostname is
// reported without failing the Environment.
func TestNodeLabels(t *testing.T) {
	f := newFixture(t)
	node, _ := f.nodeLabels()
	hostname := node.Description.Hostname

	// A label somebody set by hand.
	spec := node.Spec
	spec.Labels = map[string]string{"team": "maps"}
	f.g.Expect(docker.NodeUpdate(f.ctx, node.ID, node.Version, spec)).To(Succeed())
	t.Cleanup(func() {
		node, _ := f.nodeLabels()
		spec := node.Spec
		spec.Labels = nil
		_ = docker.NodeUpdate(f.ctx, node.ID, node.Version, spec)
	})

	f.update(f.env, func() {
		f.env.Spec.NodeLabels = []kargov1.NodeLabels{
			{Hostname: hostname, Labels: map[string]string{"zone": "a", "postgis": "true"}},
			{Hostname: "worker-gone", Labels: map[string]string{"zone": "b"}},
		}
	})
	f.g.Eventually(func() map[string]string { _, l := f.nodeLabels(); return l }, timeout, poll).Should(And(
		HaveKeyWithValue("zone", "a"), HaveKeyWithValue("postgis", "true"), HaveKeyWithValue("team", "maps")))
	message := f.waitCondition(f.env, metav1.ConditionTrue, "")
	f.g.Expect(message).To(ContainSubstring("nodeLabels name unknown node(s): worker-gone"))
	f.g.Expect(f.env.Status.MissingNodes).To(Equal([]string{"worker-gone"}))

	// Update one, drop one.
	f.update(f.env, func() {
		f.env.Spec.NodeLabels = []kargov1.NodeLabels{{Hostname: hostname, Labels: map[string]string{"zone": "b"}}}
	})
	f.g.Eventually(func() map[string]string { _, l := f.nodeLabels(); return l }, timeout, poll).Should(And(
		HaveKeyWithValue("zone", "b"), Not(HaveKey("postgis")), HaveKeyWithValue("team", "maps")))
	f.g.Eventually(func() []string { f.waitReady(f.env); return f.env.Status.MissingNodes }, timeout, poll).Should(BeEmpty())

	// None wanted any more: only the foreign label stays.
	f.update(f.env, func() { f.env.Spec.NodeLabels = nil })
	f.g.Eventually(func() map[string]string { _, l := f.nodeLabels(); return l }, timeout, poll).Should(Equal(map[string]string{"team": "maps"}))
}
