//go:build faults

package faults

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestEndpointDown: the Environment's endpoint is unreachable for 60 s
// while the Stack is updated (a Service's environment and the content of
// its config). Meanwhile the Environment and the Stack say so; afterwards
// the update is applied and the old config version is gone.
func TestEndpointDown(t *testing.T) {
	parallelWithManager(t)
	p := startProxy(t, dockerd.Host)
	f := newFixture(t, dockerd.Client(), p.Host)
	f.deployReady(3)
	oldConfig := f.swarmService(f.g, "w01").Spec.TaskTemplate.ContainerSpec.Configs[0].ConfigID

	p.down()
	down := time.Now()
	f.setVersion("d01", "2")
	conf := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "conf", Namespace: f.namespace}}
	f.Update(conf, func() { conf.Data["app.conf"] = "version 2\n" })
	f.unreachableWhileDown()
	// The outage lasts its full length whatever the manager does.
	time.Sleep(time.Until(down.Add(outage)))
	p.up()
	up := time.Now()

	f.Eventually(f.stack, func(g Gomega) {
		f.converged(g)
		f.envValue(g, "d01", "2")
		configs := f.swarmService(g, "w01").Spec.TaskTemplate.ContainerSpec.Configs
		g.Expect(configs).To(HaveLen(1))
		g.Expect(configs[0].ConfigID).NotTo(Equal(oldConfig), "w01 still uses the old config")
	})
	f.recovered(up, "endpoint back (down 60 s during an update) to the update applied")
}
