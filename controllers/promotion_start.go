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

// start starts a Promotion when its turn has come: its Stage and Freight
// exist, the Freight is eligible for the Stage, and no Promotion of the
// Stage created before it is unfinished. Otherwise it stays Pending (its
// message says behind which one) or ends Errored (why it was refused).
func (r *PromotionReconciler) start(ctx context.Context, s *promotionScope) (bool, error) {
	p := s.promotion
	s.stage, s.freight = &kargov1.Stage{}, &kargov1.Freight{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: p.Spec.Stage}, s.stage); err != nil {
		if apierrors.IsNotFound(err) {
			return false, r.finish(ctx, s, kargov1.PromotionErrored, fmt.Sprintf("Stage %s not found", p.Spec.Stage))
		}
		return false, fmt.Errorf("get stage %s: %w", p.Spec.Stage, err)
	}
	if err := r.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: p.Spec.Freight}, s.freight); err != nil {
		if apierrors.IsNotFound(err) {
			return false, r.finish(ctx, s, kargov1.PromotionErrored, fmt.Sprintf("Freight %s not found", p.Spec.Freight))
		}
		return false, fmt.Errorf("get freight %s: %w", p.Spec.Freight, err)
	}
	p.Status.Freight = &kargov1.FreightReference{Name: s.freight.Name, Alias: s.freight.Alias}
	if err := promotion.Eligible(s.stage, s.freight); err != nil {
		return false, r.finish(ctx, s, kargov1.PromotionErrored, "refused: "+err.Error())
	}
	// Deciding to start and writing Running happen under one lock, from
	// what the API server holds: two Promotions of a Stage reconciled at
	// once never both start.
	r.startMu.Lock()
	defer r.startMu.Unlock()
	ahead, err := r.ahead(ctx, p)
	if err != nil {
		return false, err
	}
	if ahead != nil {
		p.Status.Phase = kargov1.PromotionPending
		p.Status.Message = fmt.Sprintf("waiting for Promotion %s (%s) of Stage %s", ahead.Name, phaseOrPending(ahead), p.Spec.Stage)
		return false, nil
	}
	// The finalizer keeps a running Promotion until its verification job
	// is removed; the owner reference lets Promotions go with their Stage.
	patch := client.MergeFrom(p.DeepCopy())
	controllerutil.AddFinalizer(p, kargov1.Finalizer)
	if !slices.ContainsFunc(p.OwnerReferences, func(o metav1.OwnerReference) bool { return o.UID == s.stage.UID }) {
		if err := controllerutil.SetOwnerReference(s.stage, p, r.Scheme); err != nil {
			return false, err
		}
	}
	status := p.Status
	if err := r.Patch(ctx, p, patch); err != nil {
		return false, fmt.Errorf("add finalizer: %w", err)
	}
	stored := p.DeepCopy()
	p.Status = status
	now := metav1.Now()
	p.Status.Phase, p.Status.StartedAt = kargov1.PromotionRunning, &now
	startStep(p, kargov1.StepSetImages)
	if err := r.Status().Patch(ctx, p, client.MergeFrom(stored)); err != nil {
		return false, fmt.Errorf("start: %w", err)
	}
	r.Recorder.Eventf(p, "Normal", "Started", "promoting %s to Stage %s", freightDisplay(s.freight), s.stage.Name)
	return true, nil
}

// ahead returns the unfinished Promotion of the same Stage that runs
// before p (the Running one, else one created before it; by name within
// the same second), if any, as the API server has them (a Promotion just
// created may not be in the cache yet).
func (r *PromotionReconciler) ahead(ctx context.Context, p *kargov1.Promotion) (*kargov1.Promotion, error) {
	var list kargov1.PromotionList
	if err := r.APIReader.List(ctx, &list, client.InNamespace(p.Namespace)); err != nil {
		return nil, fmt.Errorf("list promotions of stage %s: %w", p.Spec.Stage, err)
	}
	var first *kargov1.Promotion
	for i := range list.Items {
		o := &list.Items[i]
		if o.UID == p.UID || o.Spec.Stage != p.Spec.Stage || o.Status.Phase.Terminal() {
			continue
		}
		if o.Status.Phase == kargov1.PromotionRunning || runsBefore(o, p) {
			if first == nil || o.Status.Phase == kargov1.PromotionRunning || runsBefore(o, first) {
				first = o
			}
		}
	}
	return first, nil
}

// runsBefore orders a Stage's Promotions: by creation, then by name.
func runsBefore(a, b *kargov1.Promotion) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

func phaseOrPending(p *kargov1.Promotion) kargov1.PromotionPhase {
	if p.Status.Phase == "" {
		return kargov1.PromotionPending
	}
	return p.Status.Phase
}

// freightDisplay names a Freight for people: alias (name), or name.
func freightDisplay(f *kargov1.Freight) string {
	return freightRefDisplay(kargov1.FreightReference{Name: f.Name, Alias: f.Alias})
}
