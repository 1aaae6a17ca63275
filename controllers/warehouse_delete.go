package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/metrics"
)

// reconcileDelete deletes the Freight of a deleted Warehouse that no Stage
// holds, keeps the held ones (a Stage runs them; they stay promotable and
// a rollback may need them), then lets the Warehouse go. Freight, Stages
// and Promotions are read from the API server: a Promotion created a
// moment ago must count.
func (r *WarehouseReconciler) reconcileDelete(ctx context.Context, wh *kargov1.Warehouse) error {
	if !controllerutil.ContainsFinalizer(wh, kargov1.Finalizer) {
		return nil
	}
	var list kargov1.FreightList
	if err := r.APIReader.List(ctx, &list, client.InNamespace(wh.Namespace)); err != nil {
		return fmt.Errorf("list freight: %w", err)
	}
	holders, err := r.freightHolders(ctx, wh.Namespace)
	if err != nil {
		return err
	}
	var deleted, kept []string
	for i := range list.Items {
		f := &list.Items[i]
		if f.Spec.Origin.Name != wh.Name || (f.Spec.Origin.Kind != "" && f.Spec.Origin.Kind != kargov1.WarehouseKind) {
			continue
		}
		if by := holders[f.Name]; len(by) > 0 {
			kept = append(kept, fmt.Sprintf("%s (%s)", f.Alias, strings.Join(by, ", ")))
			continue
		}
		if err := r.Delete(ctx, f); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete freight %s: %w", f.Name, err)
		}
		deleted = append(deleted, f.Alias)
	}
	if len(deleted)+len(kept) > 0 {
		msg := fmt.Sprintf("deleted %d Freight", len(deleted))
		if len(kept) > 0 {
			msg += fmt.Sprintf("; kept %d held by Stages: %s", len(kept), strings.Join(kept, "; "))
		}
		r.Recorder.Eventf(wh, corev1.EventTypeNormal, kargov1.DeletingReason, "%s", truncate(msg))
	}
	metrics.WarehouseDeleted(wh.Namespace, wh.Name)
	patch := client.MergeFrom(wh.DeepCopy())
	controllerutil.RemoveFinalizer(wh, kargov1.Finalizer)
	return client.IgnoreNotFound(r.Patch(ctx, wh, patch))
}

// freightHolders maps the names of the Freight that Stages of a namespace
// hold to the Stages holding them: a Stage holds its status.currentFreight
// and the Freight of its Promotions not yet over.
func (r *WarehouseReconciler) freightHolders(ctx context.Context, namespace string) (map[string][]string, error) {
	holders := map[string][]string{}
	var stages kargov1.StageList
	if err := r.APIReader.List(ctx, &stages, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("list stages: %w", err)
	}
	for _, st := range stages.Items {
		if cur := st.Status.CurrentFreight; cur != nil {
			holders[cur.Name] = append(holders[cur.Name], st.Name)
		}
	}
	var promotions kargov1.PromotionList
	if err := r.APIReader.List(ctx, &promotions, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("list promotions: %w", err)
	}
	for _, p := range promotions.Items {
		if !p.Status.Phase.Terminal() && !slices.Contains(holders[p.Spec.Freight], p.Spec.Stage) {
			holders[p.Spec.Freight] = append(holders[p.Spec.Freight], p.Spec.Stage)
		}
	}
	return holders, nil
}
