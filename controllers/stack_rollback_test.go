package controllers_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/testenv"
)

// TestRollbackIsNotReady: an update whose tasks fail is rolled back by
// Swarm; the Stack reports it (reason RolledBack, Stalled, with the task
// error) instead of success, and does not apply the failing spec again in a
// loop. Setting the Service back to the spec Swarm rolled back to makes it
// Ready; changing it otherwise retries.
func TestRollbackIsNotReady(t *testing.T) {
	f := newFixture(t)
	app := sleeper("app")
	app.Spec.UpdateConfig = &kargov1.UpdateConfig{
		Parallelism: ptr.To[int64](1), FailureAction: "rollback", Monitor: &metav1.Duration{Duration: 5 * time.Second}, Order: "stop-first",
	}
	stack := f.stackWith("roll", app)
	f.waitStackReady(stack, 1)
	good := f.swarmServiceIn("roll", "app").Spec.TaskTemplate.ContainerSpec.Command

	f.Update(app, func() { app.Spec.Command = []string{"sh", "-c", "sleep 1; echo broken; exit 3"} })
	f.Eventually(stack, func(g Gomega) {
		message := testenv.ExpectCondition(g, stack, kargov1.ReadyCondition, metav1.ConditionFalse, kargov1.RolledBackReason)
		g.Expect(message).To(ContainSubstring("app: update rollback_"))
		testenv.ExpectCondition(g, stack, kargov1.StalledCondition, metav1.ConditionTrue, kargov1.RolledBackReason)
		g.Expect(stack.Status.Services).To(ConsistOf(HaveField("SpecHash", Not(BeEmpty()))))
		t.Logf("reported: %s", message)
	})
	f.g.Eventually(func() []string { return f.swarmServiceIn("roll", "app").Spec.TaskTemplate.ContainerSpec.Command }, timeout, poll).Should(Equal(good))

	// The failed spec is held: more reconciles write nothing.
	writes := f.engine().Writes()
	f.requestReconcile(stack)
	f.requestReconcile(stack)
	f.g.Expect(f.engine().Writes()).To(Equal(writes), "the rolled-back spec was applied again")
	f.g.Expect(f.swarmServiceIn("roll", "app").Spec.TaskTemplate.ContainerSpec.Command).To(Equal(good))

	// The Service set back to the spec Swarm rolled back to (what a
	// Promotion rolling a release back does): that spec runs already, the
	// Stack is Ready again without a write.
	writes = f.engine().Writes()
	f.Update(app, func() { app.Spec.Command = []string{"sleep", "3600"} })
	f.waitStackReady(stack, 1)
	f.g.Expect(f.engine().Writes()).To(Equal(writes), "the spec running already was applied again")

	// A fixed Service is applied.
	f.Update(app, func() { app.Spec.Command = []string{"sleep", "7200"} })
	f.g.Eventually(func() []string { return f.swarmServiceIn("roll", "app").Spec.TaskTemplate.ContainerSpec.Command }, timeout, poll).Should(Equal([]string{"sleep", "7200"}))
	f.waitStackReady(stack, 1)
}
