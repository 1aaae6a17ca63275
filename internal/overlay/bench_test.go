package overlay

import (
	"io/fs"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/config/catalog"
	"github.com/kargo-io/kargo/internal/testenv"
)

// benchEntries are the catalog entries both sides of BenchmarkRender build.
var benchEntries = []string{"mongodb", "mapproxy", "geoserver"}

// benchStack picks benchEntries with a strategic merge patch, an image
// override and a replica count: every step of Render runs.
func benchStack() *v1alpha1.Stack {
	var services []v1alpha1.CatalogService
	for _, e := range benchEntries {
		services = append(services, v1alpha1.CatalogService{Name: e})
	}
	stack := stackOf(services...)
	stack.Spec.Patches = []v1alpha1.Patch{{Patch: `
apiVersion: swarm.kargo.io/v1alpha1
kind: Service
metadata:
  name: mapproxy
spec:
  env:
    - name: MAPPROXY_PROCESSES
      value: "8"
  labels:
    team: maps
`}}
	stack.Spec.Images = []v1alpha1.Image{{Name: "yagajs/mapproxy", NewTag: "1.16.0"}}
	stack.Spec.Replicas = []v1alpha1.Replicas{{Name: "geoserver", Count: 2}}
	return stack
}

// plainBuild is the peer of Render: kustomize build of the same entries,
// copied from the embedded catalog into memory, without substitution,
// patches, images or replicas. It returns the number of resources.
func plainBuild(entries []string) (int, error) {
	mem := filesys.MakeFsInMemory()
	root := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
	for _, e := range entries {
		files, err := fs.ReadDir(catalog.FS, e)
		if err != nil {
			return 0, err
		}
		if err := mem.MkdirAll("/catalog/" + e); err != nil {
			return 0, err
		}
		for _, f := range files {
			data, err := fs.ReadFile(catalog.FS, e+"/"+f.Name())
			if err != nil {
				return 0, err
			}
			if err := mem.WriteFile("/catalog/"+e+"/"+f.Name(), data); err != nil {
				return 0, err
			}
		}
		root += "- ../catalog/" + e + "\n"
	}
	if err := mem.MkdirAll("/stack"); err != nil {
		return 0, err
	}
	if err := mem.WriteFile("/stack/kustomization.yaml", []byte(root)); err != nil {
		return 0, err
	}
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, "/stack")
	if err != nil {
		return 0, err
	}
	return len(res.Resources()), nil
}

// BenchmarkRender renders a Stack of three catalog entries with a patch,
// images and replicas and, alternating in the same loop, builds the same
// three entries with plain krusty. x-krusty is how many times longer a
// render takes than the plain build: the median of the ratios of adjacent
// pairs, so that a stall of the shared machine skews neither side.
// ns/render and ns/krusty are the medians of each side (ns/op is the mean
// of their sum).
func BenchmarkRender(b *testing.B) {
	vars := testVariables(b)
	stack := benchStack()
	// Both sides once, unmeasured: check them and warm kustomize's caches.
	out, err := Render(Input{Stack: stack, Variables: vars})
	if err != nil {
		b.Fatal(err)
	}
	if len(out.Services) != len(benchEntries) {
		b.Fatalf("rendered %d services, want %d", len(out.Services), len(benchEntries))
	}
	if n, err := plainBuild(benchEntries); err != nil || n < len(benchEntries) {
		b.Fatalf("plain krusty build: %d resources, %v", n, err)
	}

	var p testenv.Pairs
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.Run(i, func() {
			if _, err := Render(Input{Stack: stack, Variables: vars}); err != nil {
				b.Fatal(err)
			}
		}, func() {
			if _, err := plainBuild(benchEntries); err != nil {
				b.Fatal(err)
			}
		})
	}
	p.Report(b, "render", "krusty")
}
