// Package overlay renders the merged configuration of a Stack: the default
// configuration (config/catalog, embedded), the user configuration (the
// Stack's patches, images and replicas; the Environment's variables),
// merged into Service objects. The Environment's defaults, the lowest layer,
// are applied once, to every Service of a Stack, hand-written or rendered,
// when its Swarm spec is made (ApplyDefaults). kustomize (krusty, in memory) does
// the merging, compose-go's template package the ${VAR:-default}
// substitution.
package overlay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"

	_ "embed"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/resid"
	"sigs.k8s.io/yaml"

	"github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/config/catalog"
)

// CatalogLabel names, on a rendered Service, the catalog entry it comes from.
const CatalogLabel = "swarm.kargo.io/catalog"

//go:embed schema.json
var serviceSchema []byte

// fieldSpecs teaches kustomize's images and replicas transformers where a
// Kargo Service keeps them.
const fieldSpecs = `replicas:
- {path: spec/replicas, group: swarm.kargo.io, kind: Service, create: true}
`

// Input is what a Stack is rendered from.
type Input struct {
	Stack     *v1alpha1.Stack
	Variables *Variables
}

// Output is the merged configuration of a Stack.
type Output struct {
	// Services, sorted by name, labelled with the Stack and their catalog entry.
	Services []v1alpha1.Service
	// Configs are the default config files of the picked entries (from
	// their configMapGenerator), by the name their Services mount them with.
	Configs map[string][]byte
	// Read lists, sorted, the variables the render looked up (set or not):
	// what the entries and the Stack's patches read. Variables.Unused
	// takes them, merged over the Stacks of an Environment.
	Read []string
}

// Render merges the catalog entries picked by the Stack with its patches,
// the Environment's variables, its images and replicas. Errors name the field, entry, variable or service
// at fault; nothing is half rendered.
func Render(in Input) (*Output, error) {
	stack := in.Stack
	out := &Output{Configs: map[string][]byte{}}
	if len(stack.Spec.Services) == 0 {
		return out, nil
	}
	vars := in.Variables.recorder()
	mem := filesys.MakeFsInMemory()
	var resources []string
	for i, picked := range stack.Spec.Services {
		entry := picked.Catalog
		if entry == "" {
			entry = picked.Name
		}
		entry = Resolve(entry)
		if err := copyEntry(mem, entry); err != nil {
			return nil, fmt.Errorf("spec.services[%d].catalog: %w", i, err)
		}
		dir := "/stack/services/" + picked.Name
		k := types.Kustomization{Resources: []string{"../../../catalog/" + entry}}
		if picked.Name != entry {
			k.Patches = []types.Patch{{
				Target:  &types.Selector{ResId: resid.ResId{Gvk: resid.Gvk{Kind: "Service"}, Name: "^" + entry + "$"}},
				Patch:   fmt.Sprintf(`[{"op": "replace", "path": "/metadata/name", "value": %q}]`, picked.Name),
				Options: &types.PatchArgs{AllowNameChange: true},
			}}
		}
		if err := writeKustomization(mem, dir, k); err != nil {
			return nil, err
		}
		resources = append(resources, "services/"+picked.Name)
	}

	// The picked entries alone, to check what the patches target.
	base := types.Kustomization{Resources: resources}
	picked, err := build(mem, "/stack", base)
	if err != nil {
		return nil, fmt.Errorf("build catalog entries: %w", err)
	}
	patches, err := checkPatches(stack.Spec.Patches, picked)
	if err != nil {
		return nil, err
	}
	if err := mem.WriteFile("/stack/schema.json", serviceSchema); err != nil {
		return nil, err
	}
	patched, err := build(mem, "/stack", types.Kustomization{Resources: resources, Patches: patches, OpenAPI: map[string]string{"path": "schema.json"}})
	if err != nil {
		return nil, fmt.Errorf("spec.patches: %w", err)
	}

	var services []map[string]any
	template := map[string]string{} // member name -> name of its template
	for _, res := range patched.Resources() {
		obj, err := res.Map()
		if err != nil {
			return nil, err
		}
		switch res.GetKind() {
		case "ConfigMap":
			name, data, err := configFile(res.GetName(), obj)
			if err != nil {
				return nil, err
			}
			out.Configs[name] = data
		case "Service":
			members, err := expandMembers(obj, vars)
			if err != nil {
				return nil, fmt.Errorf("service %s: %w", res.GetName(), err)
			}
			for _, m := range members {
				untyped := untypedMounts(m.obj)
				if err := substitute(m.obj, m.vars); err != nil {
					return nil, fmt.Errorf("service %s: %w", res.GetName(), err)
				}
				if err := resolveMountTypes(m.obj, untyped); err != nil {
					return nil, fmt.Errorf("service %s: %w", res.GetName(), err)
				}
				splitConstraints(m.obj)
				name := unstructuredString(m.obj, "metadata", "name")
				if prev, dup := template[name]; dup {
					return nil, fmt.Errorf("service %s: renders a Service named %s, as service %s does", res.GetName(), name, prev)
				}
				template[name] = res.GetName()
				services = append(services, m.obj)
			}
		default:
			return nil, fmt.Errorf("catalog: unexpected %s %s (entries hold Services and ConfigMaps)", res.GetKind(), res.GetName())
		}
	}

	services, err = transform(mem, stack, services)
	if err != nil {
		return nil, err
	}
	for _, obj := range services {
		svc, err := decodeService(obj)
		if err != nil {
			return nil, err
		}
		svc.Namespace = stack.Namespace
		svc.Spec.StackRef = v1alpha1.LocalObjectReference{Name: stack.Name}
		if svc.Labels == nil {
			svc.Labels = map[string]string{}
		}
		svc.Labels[v1alpha1.StackLabel] = stack.Name
		svc.Labels[CatalogLabel] = Resolve(catalogOf(stack, template[svc.Name]))
		out.Services = append(out.Services, svc)
	}
	sort.Slice(out.Services, func(i, j int) bool { return out.Services[i].Name < out.Services[j].Name })
	out.Read = vars.reads()
	return out, nil
}

// transform applies the Stack's images (OverrideImage) and replicas
// (kustomize) to the substituted Services: image names match only once
// ${VAR}s are resolved.
func transform(mem filesys.FileSystem, stack *v1alpha1.Stack, services []map[string]any) ([]map[string]any, error) {
	for i, img := range stack.Spec.Images {
		if !anyImageNamed(services, img.Name) {
			return nil, fmt.Errorf("spec.images[%d]: no catalog service uses image %q", i, img.Name)
		}
	}
	for _, obj := range services {
		if spec, ok := obj["spec"].(map[string]any); ok {
			if image, ok := spec["image"].(string); ok {
				spec["image"] = OverrideImage(image, stack.Spec.Images)
			}
		}
	}
	if len(stack.Spec.Replicas) == 0 {
		return services, nil
	}
	k := types.Kustomization{Resources: []string{"services.yaml"}, Configurations: []string{"fieldspecs.yaml"}}
	for i, r := range stack.Spec.Replicas {
		if !anyNamed(services, r.Name) {
			return nil, fmt.Errorf("spec.replicas[%d]: no catalog service named %q", i, r.Name)
		}
		k.Replicas = append(k.Replicas, types.Replica{Name: r.Name, Count: r.Count})
	}
	var docs bytes.Buffer
	for _, obj := range services {
		data, err := yaml.Marshal(obj)
		if err != nil {
			return nil, err
		}
		docs.WriteString("---\n")
		docs.Write(data)
	}
	if err := mem.WriteFile("/transform/services.yaml", docs.Bytes()); err != nil {
		return nil, err
	}
	if err := mem.WriteFile("/transform/fieldspecs.yaml", []byte(fieldSpecs)); err != nil {
		return nil, err
	}
	transformed, err := build(mem, "/transform", k)
	if err != nil {
		return nil, fmt.Errorf("spec.replicas: %w", err)
	}
	out := make([]map[string]any, 0, len(services))
	for _, res := range transformed.Resources() {
		obj, err := res.Map()
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}

func build(mem filesys.FileSystem, dir string, k types.Kustomization) (resmap.ResMap, error) {
	if err := writeKustomization(mem, dir, k); err != nil {
		return nil, err
	}
	return krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, dir)
}

func writeKustomization(mem filesys.FileSystem, dir string, k types.Kustomization) error {
	k.APIVersion, k.Kind = types.KustomizationVersion, types.KustomizationKind
	data, err := yaml.Marshal(k)
	if err != nil {
		return err
	}
	if err := mem.MkdirAll(dir); err != nil {
		return err
	}
	return mem.WriteFile(path.Join(dir, "kustomization.yaml"), data)
}

// copyEntry copies a catalog entry into the in-memory tree.
func copyEntry(mem filesys.FileSystem, entry string) error {
	files, err := fs.ReadDir(catalog.FS, entry)
	if err != nil || !isEntry(entry) {
		return fmt.Errorf("no catalog entry %q (kargo catalog lists them)", entry)
	}
	dir := "/catalog/" + entry
	if mem.Exists(dir) {
		return nil
	}
	if err := mem.MkdirAll(dir); err != nil {
		return err
	}
	for _, f := range files {
		data, err := fs.ReadFile(catalog.FS, entry+"/"+f.Name())
		if err != nil {
			return err
		}
		if err := mem.WriteFile(dir+"/"+f.Name(), data); err != nil {
			return err
		}
	}
	return nil
}

// checkPatches turns the Stack's patches into kustomize's, refusing those
// that would silently do nothing: a target that selects no Service, a
// strategic merge patch naming none.
func checkPatches(patches []v1alpha1.Patch, picked resmap.ResMap) ([]types.Patch, error) {
	out := make([]types.Patch, 0, len(patches))
	for i, p := range patches {
		kp := types.Patch{Patch: p.Patch}
		if t := p.Target; t != nil {
			kp.Target = &types.Selector{
				ResId:              resid.ResId{Gvk: resid.Gvk{Group: t.Group, Version: t.Version, Kind: t.Kind}, Name: t.Name},
				LabelSelector:      t.LabelSelector,
				AnnotationSelector: t.AnnotationSelector,
			}
			matched, err := picked.Select(*kp.Target)
			if err != nil {
				return nil, fmt.Errorf("spec.patches[%d].target: %w", i, err)
			}
			if len(matched) == 0 {
				return nil, fmt.Errorf("spec.patches[%d].target: matches no catalog service of this Stack (kind %q, name %q)", i, t.Kind, t.Name)
			}
		} else {
			var head struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal([]byte(p.Patch), &head); err != nil || head.Metadata.Name == "" {
				return nil, fmt.Errorf("spec.patches[%d]: a patch without target must be a strategic merge patch naming its Service (kind and metadata.name)", i)
			}
			if !anyResourceNamed(picked, head.Kind, head.Metadata.Name) {
				return nil, fmt.Errorf("spec.patches[%d]: no catalog service named %q in this Stack", i, head.Metadata.Name)
			}
		}
		out = append(out, kp)
	}
	return out, nil
}

func anyResourceNamed(m resmap.ResMap, kind, name string) bool {
	for _, r := range m.Resources() {
		if r.GetName() == name && (kind == "" || r.GetKind() == kind) {
			return true
		}
	}
	return false
}

// configFile reads the one file of a catalog ConfigMap.
func configFile(name string, obj map[string]any) (string, []byte, error) {
	data, _ := obj["data"].(map[string]any)
	if len(data) != 1 {
		return "", nil, fmt.Errorf("catalog ConfigMap %s: holds %d files, want one (one configMapGenerator per file)", name, len(data))
	}
	for _, v := range data {
		s, _ := v.(string)
		return name, []byte(s), nil
	}
	return "", nil, nil
}

func decodeService(obj map[string]any) (v1alpha1.Service, error) {
	var svc v1alpha1.Service
	name := unstructuredString(obj, "metadata", "name")
	if err := coerce(obj, "", serviceType); err != nil {
		return svc, fmt.Errorf("service %s: %w", name, err)
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return svc, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&svc); err != nil {
		return svc, fmt.Errorf("service %s: %w", name, err)
	}
	return svc, nil
}

// unstructuredString reads a string field of an unstructured object ("" when absent).
func unstructuredString(obj map[string]any, fields ...string) string {
	var cur any = obj
	for _, f := range fields {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[f]
	}
	s, _ := cur.(string)
	return s
}

func anyNamed(services []map[string]any, name string) bool {
	for _, obj := range services {
		if unstructuredString(obj, "metadata", "name") == name {
			return true
		}
	}
	return false
}

func anyImageNamed(services []map[string]any, name string) bool {
	for _, obj := range services {
		if ImageName(unstructuredString(obj, "spec", "image")) == name {
			return true
		}
	}
	return false
}

func catalogOf(stack *v1alpha1.Stack, service string) string {
	for _, s := range stack.Spec.Services {
		if s.Name == service {
			if s.Catalog != "" {
				return s.Catalog
			}
			return s.Name
		}
	}
	return ""
}
