package controllers

import (
	"context"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/promotion"
)

// autoPromote, with spec.autoPromotion, promotes the newest Freight
// eligible for the Stage when it is newer than the one the Stage holds and
// no Promotion is underway. Freight whose promotion failed or errored in
// this Stage is skipped: promoting it again takes a person (kargo
// promote), or a newer Freight.
func (r *StageReconciler) autoPromote(ctx context.Context, s *stageScope) error {
	stage := s.stage
	if !stage.Spec.AutoPromotion || s.running != nil {
		return nil
	}
	var list kargov1.FreightList
	if err := r.List(ctx, &list, client.InNamespace(stage.Namespace)); err != nil {
		return fmt.Errorf("list freight: %w", err)
	}
	// Failed here: by its Promotions, and by the Stage's history, which
	// outlives Promotions deleted since.
	failed := map[string]bool{}
	for _, p := range s.promotions {
		if p.Status.Phase == kargov1.PromotionFailed || p.Status.Phase == kargov1.PromotionErrored {
			failed[p.Spec.Freight] = true
		}
	}
	for _, entry := range stage.Status.FreightHistory {
		if entry.Phase != kargov1.PromotionSucceeded {
			failed[entry.Name] = true
		}
	}
	candidates := slices.DeleteFunc(list.Items, func(f kargov1.Freight) bool { return failed[f.Name] || !f.DeletionTimestamp.IsZero() })
	newest, err := promotion.Newest(stage, candidates)
	if err != nil {
		return nil // nothing eligible: nothing to do
	}
	if current := stage.Status.CurrentFreight; current != nil {
		i := slices.IndexFunc(list.Items, func(f kargov1.Freight) bool { return f.Name == current.Name })
		if newest.Name == current.Name || (i >= 0 && !promotion.Newer(newest, &list.Items[i])) {
			return nil
		}
	}
	p := &kargov1.Promotion{
		ObjectMeta: metav1.ObjectMeta{
			Name: autoPromotionName(stage.Name, newest.Name), Namespace: stage.Namespace,
			Labels: map[string]string{kargov1.PromotionCauseLabel: kargov1.PromotionCauseAuto, kargov1.StageLabel: stage.Name},
		},
		Spec: kargov1.PromotionSpec{Stage: stage.Name, Freight: newest.Name},
	}
	if err := controllerutil.SetOwnerReference(stage, p, r.Scheme); err != nil {
		return err
	}
	if err := r.Create(ctx, p); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil // made by an earlier reconcile the cache did not show yet
		}
		return fmt.Errorf("auto-promote %s: %w", newest.Name, err)
	}
	s.running = p
	r.Recorder.Eventf(stage, "Normal", "AutoPromotion", "promoting %s (Promotion %s)", freightDisplay(newest), p.Name)
	return nil
}

// autoPromotionName names the auto-promotion of a Freight to a Stage:
// stable, so that two reconciles racing on a stale cache create it once
// (a Freight is auto-promoted to a Stage at most once: never again once it
// failed there, and never when the Stage holds newer Freight).
func autoPromotionName(stage, freight string) string {
	if len(freight) > 12 {
		freight = freight[:12]
	}
	if len(stage) > 253-13 {
		stage = stage[:253-13]
	}
	return stage + "-" + freight
}
