package compose

import (
	"bytes"
	"encoding/json"

	"sigs.k8s.io/yaml"
)

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
func (r *Result) YAML() ([]byte, error) {
	var b bytes.Buffer
	for _, obj := range r.Objects() {
		data, err := json.Marshal(obj)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, err
		}
		delete(m, "status")
		if meta, ok := m["metadata"].(map[string]any); ok {
			delete(meta, "creationTimestamp")
		}
		out, err := yaml.Marshal(m)
		if err != nil {
			return nil, err
		}
		b.WriteString("---\n")
		b.Write(out)
	}
	return b.Bytes(), nil
}
