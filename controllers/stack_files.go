package controllers

import (
	"context"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/desired"
	"github.com/kargo-io/kargo/internal/swarm"
)

// reconcileFiles creates the current version of every config and secret.
// Config files of catalog entries are replaced by a config of the Stack
// with the same name (see desired.Files).
func (r *StackReconciler) reconcileFiles(ctx context.Context, s *stackScope) error {
	files, err := desired.Files(s.stack, s.renderedConfigs, r.keyReader(ctx, s.stack.Namespace))
	if err != nil {
		return err
	}
	for _, f := range files {
		ref, err := r.ensureFile(ctx, s, f.Kind, f.Name, f.Data)
		if err != nil {
			return err
		}
		if f.Kind == swarm.KindConfig {
			s.objects.Configs[f.Name] = ref
		} else {
			s.objects.Secrets[f.Name] = ref
		}
	}
	return nil
}

// ensureFile creates the version of a config or secret named after its
// content (keyed by the Stack's naming key) if it is missing, and records
// it as desired.
func (r *StackReconciler) ensureFile(ctx context.Context, s *stackScope, kind, name string, data []byte) (swarm.ObjectRef, error) {
	versioned := swarm.VersionedName(s.namingKey, s.objects.Namespace, name, data)
	ref, change, err := s.engine.EnsureFile(ctx, swarm.FileObject{Kind: kind, Name: versioned, Data: data, Labels: s.labels(name)}, s.owner, s.owned)
	if err != nil {
		return ref, err
	}
	s.desired[kind][versioned] = true
	r.recordChange(ctx, s, change, kind, versioned, nil)
	return ref, nil
}

// keyReader reads one key of a ConfigMap or Secret of a namespace (from
// the API server: see ManagerOptions); a missing one is a
// sourceNotFoundError.
func (r *StackReconciler) keyReader(ctx context.Context, namespace string) desired.KeyReader {
	read := desired.Keys(ctx, r.Client, namespace)
	return func(sel kargov1.KeySelector, secret bool) ([]byte, error) {
		data, err := read(sel, secret)
		if err != nil {
			return nil, sourceNotFoundError{err}
		}
		return data, nil
	}
}
