package overlay

import (
	"bytes"
	"encoding/json"

	"sigs.k8s.io/yaml"

	"github.com/kargo-io/kargo/api/v1alpha1"
)

// Manifests prints Services as a YAML stream of manifests: what kubectl
// apply takes, without status or server-set fields.
func Manifests(services []v1alpha1.Service) ([]byte, error) {
	objects := make([]any, 0, len(services))
	for _, svc := range services {
		svc.APIVersion, svc.Kind = v1alpha1.GroupVersion.String(), "Service"
		objects = append(objects, svc)
	}
	return ManifestYAML(objects...)
}

// ManifestYAML prints API objects as a YAML stream of manifests, each
// without status, creationTimestamp or empty fields: what kubectl apply -f -
// takes.
func ManifestYAML(objects ...any) ([]byte, error) {
	var b bytes.Buffer
	for _, o := range objects {
		data, err := json.Marshal(o)
		if err != nil {
			return nil, err
		}
		var obj map[string]any
		if err := json.Unmarshal(data, &obj); err != nil {
			return nil, err
		}
		delete(obj, "status")
		if meta, ok := obj["metadata"].(map[string]any); ok {
			delete(meta, "creationTimestamp")
		}
		out, err := yaml.Marshal(obj)
		if err != nil {
			return nil, err
		}
		b.WriteString("---\n")
		b.Write(out)
	}
	return b.Bytes(), nil
}
