package testenv

import (
	"fmt"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// Conditions are the status conditions of a Kargo object.
func Conditions(obj client.Object) []metav1.Condition {
	switch o := obj.(type) {
	case *kargov1.Environment:
		return o.Status.Conditions
	case *kargov1.ClusterEnvironment:
		return o.Status.Conditions
	case *kargov1.Stack:
		return o.Status.Conditions
	case *kargov1.Service:
		return o.Status.Conditions
	case *kargov1.Warehouse:
		return o.Status.Conditions
	case *kargov1.Stage:
		return o.Status.Conditions
	}
	panic(fmt.Sprintf("no conditions on %T", obj))
}

// ExpectCondition asserts, inside an Eventually, that obj's condition typ
// has the status and (unless empty) the reason; it returns the message.
func ExpectCondition(g Gomega, obj client.Object, typ string, status metav1.ConditionStatus, reason string) string {
	c := meta.FindStatusCondition(Conditions(obj), typ)
	g.Expect(c).NotTo(BeNil(), "no %s condition yet", typ)
	g.Expect(c.Status).To(Equal(status), "%s: %s %s", typ, c.Reason, c.Message)
	if reason != "" {
		g.Expect(c.Reason).To(Equal(reason), "%s: %s %s", typ, c.Reason, c.Message)
	}
	return c.Message
}

// ExpectReady asserts, inside an Eventually, that obj is Ready for its
// current generation; it returns the message.
func ExpectReady(g Gomega, obj client.Object) string {
	message := ExpectCondition(g, obj, kargov1.ReadyCondition, metav1.ConditionTrue, "")
	c := meta.FindStatusCondition(Conditions(obj), kargov1.ReadyCondition)
	g.Expect(c.ObservedGeneration).To(Equal(obj.GetGeneration()), "Ready for an older generation")
	return message
}
