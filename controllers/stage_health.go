package controllers

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// health is the health of the Stage's targets: Healthy when every target
// Stack is Ready, Unhealthy when one is missing or not Ready, Unknown
// while one has not said yet; why lists what is wrong.
func (r *StageReconciler) health(ctx context.Context, s *stageScope) (string, string, error) {
	var unhealthy, unknown []string
	for _, target := range s.stage.Spec.Targets {
		stack := &kargov1.Stack{}
		if err := r.Get(ctx, client.ObjectKey{Namespace: s.stage.Namespace, Name: target.Stack}, stack); err != nil {
			if apierrors.IsNotFound(err) {
				unhealthy = append(unhealthy, fmt.Sprintf("Stack %s not found", target.Stack))
				continue
			}
			return "", "", fmt.Errorf("get stack %s: %w", target.Stack, err)
		}
		ready := meta.FindStatusCondition(stack.Status.Conditions, kargov1.ReadyCondition)
		switch {
		case ready == nil || ready.Status == metav1.ConditionUnknown:
			unknown = append(unknown, fmt.Sprintf("Stack %s not reconciled yet", stack.Name))
		case ready.Status == metav1.ConditionFalse:
			unhealthy = append(unhealthy, fmt.Sprintf("Stack %s: %s", stack.Name, ready.Message))
		}
	}
	switch {
	case len(unhealthy) > 0:
		return kargov1.HealthUnhealthy, strings.Join(append(unhealthy, unknown...), "; "), nil
	case len(unknown) > 0:
		return kargov1.HealthUnknown, strings.Join(unknown, "; "), nil
	}
	return kargov1.HealthHealthy, "", nil
}

// summarize sets the Stage's conditions: Reconciling while a Promotion is
// underway; Ready when it holds Freight, its last Promotion succeeded and
// its targets are Ready; otherwise Ready=False saying why.
func (r *StageReconciler) summarize(s *stageScope, why string) {
	st := &s.stage.Status
	gen := s.stage.Generation
	last := st.LastPromotion
	switch {
	case s.running != nil && s.running.Status.Phase == kargov1.PromotionRunning:
		msg := fmt.Sprintf("Promotion %s of %s: %s", s.running.Name, s.running.Spec.Freight, s.running.Status.Message)
		markReconciling(&st.Conditions, gen, kargov1.PromotingReason, msg)
		markNotReadyKeepReconciling(&st.Conditions, gen, kargov1.PromotingReason, msg)
	case last != nil && last.Phase != kargov1.PromotionSucceeded:
		markNotReady(&st.Conditions, gen, kargov1.PromotionFailedReason, fmt.Sprintf("Promotion %s of %s %s: %s", last.Name, freightRefDisplay(last.Freight), strings.ToLower(string(last.Phase)), last.Message), false)
		meta.RemoveStatusCondition(&st.Conditions, kargov1.ReconcilingCondition)
	case st.CurrentFreight == nil:
		markNotReady(&st.Conditions, gen, kargov1.NoFreightReason, "no Freight promoted yet", false)
		meta.RemoveStatusCondition(&st.Conditions, kargov1.ReconcilingCondition)
	case st.Health != kargov1.HealthHealthy:
		markNotReady(&st.Conditions, gen, kargov1.TargetsNotReadyReason, why, false)
		meta.RemoveStatusCondition(&st.Conditions, kargov1.ReconcilingCondition)
	default:
		markReady(&st.Conditions, gen, fmt.Sprintf("holds %s; targets Ready", freightRefDisplay(*st.CurrentFreight)))
	}
}

// markNotReadyKeepReconciling sets Ready=False while work is underway
// (Reconciling stays True).
func markNotReadyKeepReconciling(conds *[]metav1.Condition, generation int64, reason, message string) {
	setCondition(conds, generation, kargov1.ReadyCondition, metav1.ConditionFalse, reason, message)
}

// freightRefDisplay names a Freight reference for people.
func freightRefDisplay(ref kargov1.FreightReference) string {
	if ref.Alias != "" {
		return fmt.Sprintf("Freight %s (%s)", ref.Alias, ref.Name)
	}
	return "Freight " + ref.Name
}
