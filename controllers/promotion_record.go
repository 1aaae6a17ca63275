package controllers

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/metrics"
)

// freightHistoryLimit is how many promotions a Stage's status.freightHistory keeps.
const freightHistoryLimit = 10

// finish ends a Promotion in a terminal phase. A Promotion that ran is
// recorded first: on its Stage (history, last promotion, and the Freight
// it holds when it succeeded), on its Freight (verifiedIn), and a failed
// one promotes the Stage's previous Freight back. Recording is idempotent:
// when it fails the Promotion stays where it was and the step runs again.
func (r *PromotionReconciler) finish(ctx context.Context, s *promotionScope, phase kargov1.PromotionPhase, message string) error {
	p := s.promotion
	now := metav1.Now()
	ran := p.Status.StartedAt != nil
	if ran {
		if phase == kargov1.PromotionFailed {
			if err := r.rollback(ctx, s); err != nil {
				return err
			}
		}
		if err := r.recordOnStage(ctx, s, phase, message, now); err != nil {
			return fmt.Errorf("record on stage %s: %w", p.Spec.Stage, err)
		}
		if phase == kargov1.PromotionSucceeded {
			if err := r.recordVerified(ctx, s, now); err != nil {
				return fmt.Errorf("record on freight %s: %w", p.Spec.Freight, err)
			}
		}
		if err := r.removeJob(ctx, s); err != nil {
			return err
		}
	}
	endStep(p, phase, message)
	if phase == kargov1.PromotionSucceeded {
		p.Status.Steps = append(p.Status.Steps, kargov1.PromotionStep{Name: kargov1.StepDone, Phase: phase, StartedAt: &now, FinishedAt: &now})
	}
	p.Status.Phase, p.Status.Message, p.Status.FinishedAt = phase, truncate(message), &now
	if ran {
		metrics.PromotionEnded(p.Namespace, p.Spec.Stage, string(phase), now.Sub(p.Status.StartedAt.Time))
	}
	eventType := corev1.EventTypeNormal
	if phase != kargov1.PromotionSucceeded {
		eventType = corev1.EventTypeWarning
	}
	r.Recorder.Event(p, eventType, string(phase), truncate(message))
	if !controllerutil.ContainsFinalizer(p, kargov1.Finalizer) {
		return nil
	}
	status := p.Status
	patch := client.MergeFrom(p.DeepCopy())
	controllerutil.RemoveFinalizer(p, kargov1.Finalizer)
	err := r.Patch(ctx, p, patch)
	p.Status = status
	return client.IgnoreNotFound(err)
}

// recordOnStage writes the outcome into the Stage's status: freightHistory
// (newest first, bounded), lastPromotion and, on success, currentFreight.
// Only this reconciler writes these fields; the Stage reconciler writes
// conditions and health.
func (r *PromotionReconciler) recordOnStage(ctx context.Context, s *promotionScope, phase kargov1.PromotionPhase, message string, now metav1.Time) error {
	p := s.promotion
	ref := kargov1.FreightReference{Name: p.Spec.Freight}
	if s.freight != nil {
		ref.Alias = s.freight.Alias
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		stage := &kargov1.Stage{}
		if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: p.Spec.Stage}, stage); err != nil {
			return client.IgnoreNotFound(err)
		}
		patch := client.MergeFromWithOptions(stage.DeepCopy(), client.MergeFromWithOptimisticLock{})
		history := slices.DeleteFunc(stage.Status.FreightHistory, func(e kargov1.FreightHistoryEntry) bool { return e.Promotion == p.Name })
		history = append([]kargov1.FreightHistoryEntry{{FreightReference: ref, Promotion: p.Name, Phase: phase, FinishedAt: &now}}, history...)
		if len(history) > freightHistoryLimit {
			history = history[:freightHistoryLimit]
		}
		stage.Status.FreightHistory = history
		stage.Status.LastPromotion = &kargov1.PromotionReference{Name: p.Name, Freight: ref, Phase: phase, Message: truncate(message), FinishedAt: &now}
		if phase == kargov1.PromotionSucceeded {
			stage.Status.CurrentFreight = &ref
		}
		return r.Status().Patch(ctx, stage, patch)
	})
}

// recordVerified adds the Stage to the Freight's status.verifiedIn: the
// Stages downstream may now take it.
func (r *PromotionReconciler) recordVerified(ctx context.Context, s *promotionScope, now metav1.Time) error {
	p := s.promotion
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		freight := &kargov1.Freight{}
		if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: p.Spec.Freight}, freight); err != nil {
			return client.IgnoreNotFound(err)
		}
		if freight.IsVerifiedIn(p.Spec.Stage) {
			return nil
		}
		patch := client.MergeFromWithOptions(freight.DeepCopy(), client.MergeFromWithOptimisticLock{})
		freight.Status.VerifiedIn = append(freight.Status.VerifiedIn, kargov1.FreightStageRecord{Stage: p.Spec.Stage, Time: &now})
		return r.Status().Patch(ctx, freight, patch)
	})
}

// rollback promotes the Freight the Stage held before a failed Promotion
// back, as a Promotion of its own (cause Rollback) that queues behind it,
// when spec.verification.rollbackOnFailure allows (default) and the
// failed Promotion was not itself a rollback.
func (r *PromotionReconciler) rollback(ctx context.Context, s *promotionScope) error {
	p, stage := s.promotion, s.stage
	if stage == nil || stage.UID == "" || p.Status.Rollback != "" || p.Labels[kargov1.PromotionCauseLabel] == kargov1.PromotionCauseRollback {
		return nil
	}
	if enabled := stage.Spec.Verification.RollbackOnFailure; enabled != nil && !*enabled {
		return nil
	}
	previous := stage.Status.CurrentFreight
	if previous == nil || previous.Name == p.Spec.Freight {
		return nil
	}
	back := &kargov1.Promotion{
		ObjectMeta: metav1.ObjectMeta{
			Name: rollbackName(p.Name), Namespace: p.Namespace,
			Labels: map[string]string{kargov1.PromotionCauseLabel: kargov1.PromotionCauseRollback, kargov1.StageLabel: stage.Name},
		},
		Spec: kargov1.PromotionSpec{Stage: stage.Name, Freight: previous.Name},
	}
	if err := controllerutil.SetOwnerReference(stage, back, r.Scheme); err != nil {
		return err
	}
	if err := r.Create(ctx, back); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create rollback promotion: %w", err)
	}
	p.Status.Rollback = back.Name
	r.Recorder.Eventf(stage, corev1.EventTypeWarning, kargov1.RolledBackPromotionReason,
		"Promotion %s of %s failed: promoting %s back (Promotion %s)", p.Name, p.Spec.Freight, previous.Name, back.Name)
	return nil
}

// rollbackName is the name of the Promotion that rolls a failed one back:
// stable, so that a retried finish creates it once.
func rollbackName(failed string) string {
	const suffix = "-rollback"
	if len(failed) > 253-len(suffix) {
		failed = failed[:253-len(suffix)]
	}
	return failed + suffix
}
