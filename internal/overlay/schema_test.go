package overlay

import (
	"encoding/json"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// TestMergeKeysMatchCRD checks the schema kustomize merges Service patches
// with (schema.json) against the Service CRD (config/crd/bases, generated
// from api/): every list the CRD merges by keys (listType map) or as a set
// is merged the same way by patches, and no other list is.
func TestMergeKeysMatchCRD(t *testing.T) {
	data, err := os.ReadFile("../../config/crd/bases/swarm.kargo.io_services.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(data, &crd); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	spec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
	crdLists("spec", &spec, want)

	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(serviceSchema, &doc); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	schemaLists("spec", doc.Definitions["io.kargo.swarm.v1alpha1.ServiceSpec"], doc.Definitions, got)

	for _, path := range slices.Sorted(maps.Keys(want)) {
		if got[path] != want[path] {
			t.Errorf("%s: the CRD merges it as %s, schema.json as %q", path, want[path], got[path])
		}
	}
	for _, path := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[path]; !ok {
			t.Errorf("%s: schema.json merges it as %s, the CRD does not", path, got[path])
		}
	}
	if len(want) < 6 {
		t.Errorf("only %d merged lists found in the CRD: %v", len(want), want)
	}
}

// crdLists records, by path, how the CRD merges each list of a schema:
// "map by k1,k2" or "set".
func crdLists(path string, s *apiextensionsv1.JSONSchemaProps, out map[string]string) {
	if s.Type == "array" && s.XListType != nil {
		switch *s.XListType {
		case "map":
			out[path] = "map by " + strings.Join(s.XListMapKeys, ",")
		case "set":
			out[path] = "set"
		}
	}
	for name, p := range s.Properties {
		crdLists(path+"."+name, &p, out)
	}
	if s.Items != nil && s.Items.Schema != nil {
		crdLists(path+"[]", s.Items.Schema, out)
	}
}

// schemaLists does the same for the swagger schema kustomize reads,
// following $refs.
func schemaLists(path string, s map[string]any, defs map[string]map[string]any, out map[string]string) {
	if ref, ok := s["$ref"].(string); ok {
		s = defs[strings.TrimPrefix(ref, "#/definitions/")]
	}
	if s["type"] == "array" {
		keys, _ := s["x-kubernetes-list-map-keys"].([]any)
		switch {
		case len(keys) > 0:
			var names []string
			for _, k := range keys {
				names = append(names, k.(string))
			}
			if merge, _ := s["x-kubernetes-patch-merge-key"].(string); merge != names[0] {
				out[path] = "map with patch merge key " + merge
				return
			}
			out[path] = "map by " + strings.Join(names, ",")
		case s["x-kubernetes-patch-strategy"] == "merge":
			out[path] = "set"
		}
	}
	props, _ := s["properties"].(map[string]any)
	for name, p := range props {
		if m, ok := p.(map[string]any); ok {
			schemaLists(path+"."+name, m, defs, out)
		}
	}
	if items, ok := s["items"].(map[string]any); ok {
		schemaLists(path+"[]", items, defs, out)
	}
}
