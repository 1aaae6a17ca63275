package compose

import "github.com/kargo-io/kargo/internal/overlay"

// Objects returns the objects in the order to apply them: ConfigMaps and
// Secrets, the Stack, its Services.
func (r *Result) Objects() []any {
	var objs []any
	for _, cm := range r.ConfigMaps {
		objs = append(objs, cm)
	}
	for _, s := range r.Secrets {
		objs = append(objs, s)
	}
	objs = append(objs, r.Stack)
	for _, s := range r.Services {
		objs = append(objs, s)
	}
	return objs
}

// YAML renders the objects as multi-document YAML, as kubectl apply -f -
// takes it: no status, no creationTimestamp, no empty fields.
func (r *Result) YAML() ([]byte, error) { return overlay.ManifestYAML(r.Objects()...) }
