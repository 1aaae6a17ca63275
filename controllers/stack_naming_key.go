package controllers

import (
	"context"
	"crypto/rand"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/desired"
	"github.com/kargo-io/kargo/internal/swarm"
)

// +kubebuilder:rbac:groups="",resources=secrets,verbs=create

// reconcileNamingKey reads the Stack's naming key (desired.NamingKey), the
// key of the digests naming its config and secret versions and of its spec
// hashes, and creates it when the Stack has none yet: on its first
// reconcile, or the first after an upgrade from plain content hashes (its
// configs and secrets then move to new names once). The key is never
// rotated: a new one would rename every version and roll every service
// using one.
func (r *StackReconciler) reconcileNamingKey(ctx context.Context, s *stackScope) error {
	key, secret, err := desired.NamingKey(ctx, r.Client, s.stack)
	switch {
	case err != nil && secret == nil:
		return err // reading it failed: retried
	case secret == nil:
		return r.createNamingKey(ctx, s)
	case !metav1.IsControlledBy(secret, s.stack):
		if ref := metav1.GetControllerOf(secret); ref != nil && ref.Kind == "Stack" && ref.Name == s.stack.Name {
			// A deleted Stack of the same name: the garbage collector
			// removes its Secret shortly.
			return fmt.Errorf("naming key Secret %s belongs to a deleted Stack %s: waiting for it to be garbage collected", secret.Name, s.stack.Name)
		}
		return &swarm.ConflictError{Kind: "Kubernetes Secret", Name: secret.Name}
	case err != nil:
		return invalidSpecError{err} // a key of the wrong size: see NamingKey
	}
	s.namingKey = key
	return nil
}

// createNamingKey creates the Stack's naming key: 32 random bytes in an
// immutable Secret the Stack controls, deleted with it.
func (r *StackReconciler) createNamingKey(ctx context.Context, s *stackScope) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("naming key: %w", err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: s.stack.Namespace, Name: desired.NamingKeySecret(s.stack),
			Labels: map[string]string{kargov1.StackLabel: s.stack.Name},
		},
		Type:      corev1.SecretTypeOpaque,
		Immutable: ptr.To(true),
		Data:      map[string][]byte{desired.NamingKeyField: key},
	}
	if err := controllerutil.SetControllerReference(s.stack, secret, r.Scheme); err != nil {
		return fmt.Errorf("naming key Secret %s: %w", secret.Name, err)
	}
	if err := r.Create(ctx, secret); err != nil {
		return fmt.Errorf("create naming key Secret %s: %w", secret.Name, err)
	}
	r.Recorder.Eventf(s.stack, corev1.EventTypeNormal, "Created", "naming key Secret %s created", secret.Name)
	s.namingKey = key
	return nil
}
