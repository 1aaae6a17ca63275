package controllers_test

import (
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/testenv"
)

// TestUnusedVariables: an Environment setting variables that no Stack of it
// reads gets one Warning event UnusedVariables naming them (never a value),
// again only when that set changes: a reconcile with the same set adds
// nothing, a Stack deleted makes what only it read unused.
func TestUnusedVariables(t *testing.T) {
	f := newFixture(t)
	// Suspended Stacks: the Environment renders them to know what they
	// read; nothing runs on the Swarm.
	stack := func(name, entry string) *kargov1.Stack {
		s := &kargov1.Stack{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.namespace},
			Spec: kargov1.StackSpec{
				EnvironmentRef: kargov1.EnvironmentReference{Name: f.env.Name},
				Services:       []kargov1.CatalogService{{Name: entry}},
				Suspend:        true,
			},
		}
		f.Create(s)
		return s
	}
	stack("cache", "redis")
	mongo := stack("mongo", "mongodb")

	const secretValue = "unused-t0ken-value"
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tokens", Namespace: f.namespace}, StringData: map[string]string{"OLD_API_TOKEN": secretValue}})
	f.Create(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dotenv", Namespace: f.namespace}, Data: map[string]string{
		".env": "STACKS=\"cache mongo\"\nCACHE_STACK=redis\nMONGO_STACK=mongodb\nBASE=4.4\nMONGODB_TAG=$BASE\n",
	}})
	f.Update(f.env, func() {
		f.env.Spec.Variables = map[string]string{"REDIS_TAG": "6", "REDIS_TAGG": "6"}
		f.env.Spec.VariablesFrom = []kargov1.VariablesSource{
			{ConfigMapRef: &kargov1.VariablesReference{Name: "dotenv", Key: ".env"}},
			{SecretRef: &kargov1.VariablesReference{Name: "tokens"}},
		}
	})
	first := "2 variable(s) set but read by no catalog entry or patch of its Stacks: OLD_API_TOKEN, REDIS_TAGG"
	f.g.Eventually(func(g Gomega) {
		g.Expect(f.unusedEvents(g)).To(Equal([]string{first + " (count 1)"}))
	}, timeout, poll).Should(Succeed())

	// A reconcile of the Environment with the same set emits nothing: the
	// spec changes, the Environment is Ready for it, still one event.
	f.Update(f.env, func() { f.env.Spec.Interval = &metav1.Duration{Duration: 5 * time.Minute} })
	f.Eventually(f.env, func(g Gomega) {
		testenv.ExpectReady(g, f.env)
		g.Expect(f.env.Status.ObservedGeneration).To(Equal(f.env.Generation))
		g.Expect(f.unusedEvents(g)).To(Equal([]string{first + " (count 1)"}))
	})

	// Without the Stack mongo, MONGODB_TAG and BASE (read by its value)
	// are unused; MONGO_STACK is not, STACKS still names mongo.
	f.g.Expect(k8sDelete(f, mongo)).To(Succeed())
	second := "4 variable(s) set but read by no catalog entry or patch of its Stacks: BASE, MONGODB_TAG, OLD_API_TOKEN, REDIS_TAGG"
	f.g.Eventually(func(g Gomega) {
		g.Expect(f.unusedEvents(g)).To(ConsistOf(first+" (count 1)", second+" (count 1)"))
	}, timeout, poll).Should(Succeed())
}

// unusedEvents lists the UnusedVariables events of the fixture's
// Environment as "message (count n)", checking that each is a Warning and
// holds no Secret value.
func (f *fixture) unusedEvents(g Gomega) []string {
	var list corev1.EventList
	g.Expect(k8s.List(f.ctx, &list, client.InNamespace(f.namespace))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.InvolvedObject.Kind != "Environment" || e.InvolvedObject.Name != f.env.Name || e.Reason != kargov1.UnusedVariablesReason {
			continue
		}
		g.Expect(e.Type).To(Equal(corev1.EventTypeWarning))
		g.Expect(e.Message).NotTo(ContainSubstring("t0ken"))
		out = append(out, fmt.Sprintf("%s (count %d)", e.Message, e.Count))
	}
	return out
}
