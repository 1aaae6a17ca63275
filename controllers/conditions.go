package controllers

import (
	"math/rand/v2"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/swarm"
)

// markReady sets Ready=True and clears Reconciling and Stalled.
func markReady(conds *[]metav1.Condition, generation int64, message string) {
	setCondition(conds, generation, kargov1.ReadyCondition, metav1.ConditionTrue, kargov1.ReconciledReason, message)
	meta.RemoveStatusCondition(conds, kargov1.ReconcilingCondition)
	meta.RemoveStatusCondition(conds, kargov1.StalledCondition)
}

// markReconciling says work is in progress: Reconciling=True, and
// Ready=Unknown when there is no Ready yet (kstatus: Ready is always
// present; a known Ready stays until the reconcile decides).
func markReconciling(conds *[]metav1.Condition, generation int64, reason, message string) {
	setCondition(conds, generation, kargov1.ReconcilingCondition, metav1.ConditionTrue, reason, message)
	meta.RemoveStatusCondition(conds, kargov1.StalledCondition)
	if meta.FindStatusCondition(*conds, kargov1.ReadyCondition) == nil {
		setCondition(conds, generation, kargov1.ReadyCondition, metav1.ConditionUnknown, reason, message)
	}
}

// suspendedMessage is the Ready message of an object whose own spec.suspend is set.
const suspendedMessage = "reconciliation is suspended (spec.suspend): the Swarm is left as it is"

// markSuspended says reconciliation is suspended: Ready=Unknown (the Swarm
// is not looked at), neither Reconciling nor Stalled; message says by whom.
func markSuspended(conds *[]metav1.Condition, generation int64, message string) {
	setCondition(conds, generation, kargov1.ReadyCondition, metav1.ConditionUnknown, kargov1.SuspendedReason, message)
	meta.RemoveStatusCondition(conds, kargov1.ReconcilingCondition)
	meta.RemoveStatusCondition(conds, kargov1.StalledCondition)
}

// markNotReady sets Ready=False with a reason; stalled says retrying cannot help.
func markNotReady(conds *[]metav1.Condition, generation int64, reason, message string, stalled bool) {
	setCondition(conds, generation, kargov1.ReadyCondition, metav1.ConditionFalse, reason, message)
	if stalled {
		setCondition(conds, generation, kargov1.StalledCondition, metav1.ConditionTrue, reason, message)
		meta.RemoveStatusCondition(conds, kargov1.ReconcilingCondition)
	} else {
		meta.RemoveStatusCondition(conds, kargov1.StalledCondition)
	}
}

func setCondition(conds *[]metav1.Condition, generation int64, typ string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(conds, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: truncate(message), ObservedGeneration: generation,
	})
}

// truncate keeps condition messages, which may list many services, under
// the API's 32768-byte limit; each error in them is already cut shorter
// (swarm.ErrorText).
func truncate(s string) string { return swarm.Truncate(s, 4096) }

// jitter spreads periodic resyncs of many objects by up to 10%.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d)/10+1))
}
