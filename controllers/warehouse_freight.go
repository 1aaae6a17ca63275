package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/freight"
	"github.com/kargo-io/kargo/internal/metrics"
)

// makeFreight creates the Freight of the newest revisions when their
// combination is new (its name, a hash of them, is not status.lastFreight).
// A Freight deleted by hand is not made again while the newest revisions
// stay the same. The Freight is not owned by the Warehouse: Stages hold it beyond the
// Warehouse's life (see reconcileDelete). A combination seen before (a
// tag moved back) finds its Freight there already and takes it as the
// last again, without an event.
func (r *WarehouseReconciler) makeFreight(ctx context.Context, s *warehouseScope) error {
	wh := s.warehouse
	spec := kargov1.FreightSpec{
		Origin: kargov1.FreightOrigin{Kind: kargov1.WarehouseKind, Name: wh.Name},
		Images: s.newest,
	}
	name := freight.Name(spec)
	if name == wh.Status.LastFreight {
		return nil
	}
	taken, err := r.aliases(ctx, wh.Namespace)
	if err != nil {
		return err
	}
	alias := freight.Alias(name, func(a string) bool { return taken[a] })
	f := &kargov1.Freight{
		ObjectMeta: metav1.ObjectMeta{Namespace: wh.Namespace, Name: name, Labels: map[string]string{kargov1.AliasLabel: alias}},
		Alias:      alias,
		Spec:       spec,
	}
	switch err := r.Create(ctx, f); {
	case apierrors.IsAlreadyExists(err):
	case err != nil:
		return fmt.Errorf("create freight %s: %w", name, err)
	default:
		s.created = true
		metrics.FreightDiscovered(wh.Namespace, wh.Name)
		r.Recorder.Eventf(wh, corev1.EventTypeNormal, kargov1.FreightCreatedReason, "Freight %s (%s): %s", alias, name, describeImages(s.newest))
	}
	wh.Status.LastFreight = name
	return nil
}

// aliases are the aliases of the Freight of a namespace, read from the API
// server so that two Freight made in a row never share one.
func (r *WarehouseReconciler) aliases(ctx context.Context, namespace string) (map[string]bool, error) {
	var list kargov1.FreightList
	if err := r.APIReader.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("list freight: %w", err)
	}
	taken := map[string]bool{}
	for _, f := range list.Items {
		taken[f.Alias] = true
		taken[f.Labels[kargov1.AliasLabel]] = true
	}
	return taken, nil
}
