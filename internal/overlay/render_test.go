package overlay

import (
	"flag"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/config/catalog"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// testVariables are the variables of testdata/variables.env, for tests and benchmarks.
func testVariables(tb testing.TB) *Variables {
	tb.Helper()
	data, err := os.ReadFile("testdata/variables.env")
	if err != nil {
		tb.Fatal(err)
	}
	dotenv := string(data)
	vars, err := NewVariables(Source{Origin: "testdata/variables.env", Dotenv: &dotenv})
	if err != nil {
		tb.Fatal(err)
	}
	return vars
}

func stackOf(services ...v1alpha1.CatalogService) *v1alpha1.Stack {
	return &v1alpha1.Stack{
		ObjectMeta: metav1.ObjectMeta{Name: "geo", Namespace: "maps"},
		Spec:       v1alpha1.StackSpec{EnvironmentRef: v1alpha1.EnvironmentReference{Name: "local"}, Services: services},
	}
}

// golden compares got with testdata/<name>.golden, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	file := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/overlay -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", file, got, want)
	}
}

func printOutput(t *testing.T, out *Output) []byte {
	t.Helper()
	manifests, err := Manifests(out.Services)
	if err != nil {
		t.Fatal(err)
	}
	b := strings.Builder{}
	b.Write(manifests)
	for _, name := range slices.Sorted(maps.Keys(out.Configs)) {
		b.WriteString("--- # config " + name + "\n")
		b.Write(out.Configs[name])
		if !strings.HasSuffix(string(out.Configs[name]), "\n") {
			b.WriteString("\n")
		}
	}
	return []byte(b.String())
}

// TestCatalogEntries renders each catalog entry alone with the default of
// every variable it has one for, and compares with its golden file.
func TestCatalogEntries(t *testing.T) {
	entries, err := Entries()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 35 {
		t.Errorf("the catalog has %d entries, want at least 35", len(entries))
	}
	vars := testVariables(t)
	for _, e := range entries {
		t.Run(e.Name, func(t *testing.T) {
			if e.Summary == "" {
				t.Errorf("service.yaml of %s has no header comment", e.Name)
			}
			out, err := Render(Input{Stack: stackOf(v1alpha1.CatalogService{Name: e.Name}), Variables: vars})
			if err != nil {
				t.Fatal(err)
			}
			data, err := fs.ReadFile(catalog.FS, e.Name+"/service.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(data), MembersAnnotation+":") {
				// a template: its members, each labelled with the entry
				if len(out.Services) < 2 {
					t.Fatalf("rendered %d services, want the members of template %s", len(out.Services), e.Name)
				}
				for _, svc := range out.Services {
					if svc.Labels[CatalogLabel] != e.Name {
						t.Errorf("member %s is labelled %s=%q, want %s", svc.Name, CatalogLabel, svc.Labels[CatalogLabel], e.Name)
					}
				}
			} else if len(out.Services) != 1 || out.Services[0].Name != e.Name {
				t.Fatalf("rendered %d services, want %s alone", len(out.Services), e.Name)
			}
			golden(t, "catalog/"+e.Name, printOutput(t, out))
		})
	}
}

// TestUserOverlay: the user layer over a catalog entry changes its image
// tag, replicas, a constraint and an env var, and adds a label; the other
// env vars, networks and mounts of the entry stay (merge keys), and the
// Environment's defaults fill only what is unset.
func TestUserOverlay(t *testing.T) {
	stack := stackOf(v1alpha1.CatalogService{Name: "tiles", Catalog: "mapproxy"})
	stack.Spec.Images = []v1alpha1.Image{{Name: "yagajs/mapproxy", NewTag: "1.16.0"}}
	stack.Spec.Replicas = []v1alpha1.Replicas{{Name: "tiles", Count: 3}}
	stack.Spec.Patches = []v1alpha1.Patch{
		{Patch: `
apiVersion: swarm.kargo.io/v1alpha1
kind: Service
metadata:
  name: tiles
spec:
  env:
    - name: MAPPROXY_PROCESSES
      value: "8"
  labels:
    team: maps
`},
		{Target: &v1alpha1.PatchTarget{Kind: "Service", Name: "tiles"}, Patch: `
- op: replace
  path: /spec/placement/constraints/0
  value: node.labels.tiles==true
`},
	}
	vars := testVariables(t)
	defaults := &v1alpha1.ServiceDefaults{
		Labels:  map[string]string{"team": "platform", "cost-center": "geo"},
		Logging: &v1alpha1.Logging{Driver: "json-file", Options: map[string]string{"max-size": "10m"}},
	}
	out, err := Render(Input{Stack: stack, Variables: vars})
	if err != nil {
		t.Fatal(err)
	}
	// The Environment's defaults, the lowest layer, as the Swarm spec gets them.
	for i := range out.Services {
		ApplyDefaults(&out.Services[i].Spec, defaults)
	}
	golden(t, "overlay", printOutput(t, out))

	base, err := Render(Input{Stack: stackOf(v1alpha1.CatalogService{Name: "tiles", Catalog: "mapproxy"}), Variables: vars})
	if err != nil {
		t.Fatal(err)
	}
	got, was := out.Services[0].Spec, base.Services[0].Spec
	if got.Image != "yagajs/mapproxy:1.16.0" || *got.Replicas != 3 {
		t.Errorf("image %s replicas %d, want yagajs/mapproxy:1.16.0 and 3", got.Image, *got.Replicas)
	}
	if got.Placement.Constraints[0] != "node.labels.tiles==true" || len(got.Placement.Constraints) != len(was.Placement.Constraints) {
		t.Errorf("constraints %v, want the first replaced in %v", got.Placement.Constraints, was.Placement.Constraints)
	}
	if len(got.Env) != len(was.Env) {
		t.Errorf("the patch of one env var changed the number of env vars: %d, was %d", len(got.Env), len(was.Env))
	}
	for _, e := range got.Env {
		if e.Name == "MAPPROXY_PROCESSES" && e.Value != "8" {
			t.Errorf("MAPPROXY_PROCESSES = %q, want 8", e.Value)
		}
	}
	if got.Labels["team"] != "maps" || got.Labels["cost-center"] != "geo" {
		t.Errorf("labels %v: want the user's team and the default cost-center", got.Labels)
	}
	if len(got.Networks) != len(was.Networks) || len(got.Mounts) != len(was.Mounts) {
		t.Errorf("networks or mounts lost by the patch")
	}
}

func dotenvSource(origin, content string) Source { return Source{Origin: origin, Dotenv: &content} }

// TestRenderErrors: each error names its cause, and nothing of a Secret's
// value is printed.
func TestRenderErrors(t *testing.T) {
	const secretValue = "hunter2-do-not-print"
	secretVars := func() *Variables {
		v, err := NewVariables(
			Source{Origin: "spec.variables", Values: map[string]string{"SUBDOMAIN": "kargo.example.org"}},
			Source{Origin: "Secret db", SecretName: "db", Values: map[string]string{"KANO_DB_URL": secretValue}},
		)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name  string
		stack func(*v1alpha1.Stack)
		vars  func() *Variables
		want  string
	}{
		{"unknown entry", func(s *v1alpha1.Stack) { s.Spec.Services[0].Catalog = "mongo-db" },
			nil, `spec.services[0].catalog: no catalog entry "mongo-db"`},
		{"patch target matches nothing", func(s *v1alpha1.Stack) {
			s.Spec.Patches = []v1alpha1.Patch{{Target: &v1alpha1.PatchTarget{Kind: "Service", Name: "mongo"}, Patch: "- {op: remove, path: /spec/replicas}"}}
		}, nil, `spec.patches[0].target: matches no catalog service of this Stack (kind "Service", name "mongo")`},
		{"strategic merge patch naming no service", func(s *v1alpha1.Stack) {
			s.Spec.Patches = []v1alpha1.Patch{{Patch: "kind: Service\nmetadata: {name: mongo}\nspec: {replicas: 2}"}}
		}, nil, `spec.patches[0]: no catalog service named "mongo"`},
		{"image override matching nothing", func(s *v1alpha1.Stack) {
			s.Spec.Images = []v1alpha1.Image{{Name: "postgres", NewTag: "16"}}
		}, nil, `spec.images[0]: no catalog service uses image "postgres"`},
		{"variable without value", func(s *v1alpha1.Stack) { s.Spec.Services[0].Catalog = "grafana" },
			func() *Variables { v, _ := NewVariables(); return v }, "service mongodb: spec.env[0].value: variable SUBDOMAIN is not set and has no default"},
		{"required variable", func(s *v1alpha1.Stack) { s.Spec.Services[0].Catalog = "k-teleray" },
			func() *Variables { v, _ := NewVariables(); return v }, "variable TELERAY_DB_URL is required: TELERAY_DB_URL must be set"},
		{"number that is not one", func(s *v1alpha1.Stack) { s.Spec.Services[0].Catalog = "mapcache" },
			func() *Variables {
				v, _ := NewVariables(Source{Origin: "spec.variables", Values: map[string]string{"MAPCACHE_REPLICAS": "two"}})
				return v
			}, `service mongodb: spec.replicas: "two" is not an integer`},
		{"Secret variable inside a larger string", func(s *v1alpha1.Stack) {
			s.Spec.Patches = []v1alpha1.Patch{{Target: &v1alpha1.PatchTarget{Name: "mongodb"}, Patch: "- {op: add, path: /spec/labels, value: {db: 'url=${KANO_DB_URL}'}}"}}
		}, secretVars, "spec.labels.db: variable KANO_DB_URL comes from a Secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stack := stackOf(v1alpha1.CatalogService{Name: "mongodb"})
			tt.stack(stack)
			vars := testVariables(t)
			if tt.vars != nil {
				vars = tt.vars()
			}
			_, err := Render(Input{Stack: stack, Variables: vars})
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secretValue) {
				t.Errorf("the error prints a Secret value: %q", err)
			}
		})
	}
}

// TestSecretVariableBecomesValueFrom: a Secret-sourced variable used as a
// whole env value reaches the Service as a reference to the Secret key, not
// as its value.
func TestSecretVariableBecomesValueFrom(t *testing.T) {
	vars, err := NewVariables(
		Source{Origin: "spec.variables", Values: map[string]string{"SUBDOMAIN": "kargo.example.org"}},
		Source{Origin: "Secret kano", SecretName: "kano", Values: map[string]string{"KANO_DB_URL": "mongodb://admin:s3cret@mongodb/kano"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Render(Input{Stack: stackOf(v1alpha1.CatalogService{Name: "kano"}), Variables: vars})
	if err != nil {
		t.Fatal(err)
	}
	manifests, _ := Manifests(out.Services)
	if strings.Contains(string(manifests), "s3cret") {
		t.Fatalf("the Secret value reached the Service:\n%s", manifests)
	}
	for _, e := range out.Services[0].Spec.Env {
		if e.Name == "DB_URL" {
			if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || *e.ValueFrom.SecretKeyRef != (v1alpha1.KeySelector{Name: "kano", Key: "KANO_DB_URL"}) {
				t.Errorf("DB_URL = %+v, want valueFrom secretKeyRef kano/KANO_DB_URL", e)
			}
			return
		}
	}
	t.Errorf("kano has no DB_URL env var")
}

// TestVariables: sources in order, later ones winning; .env files with
// comments, quotes and references to earlier variables; errors with the
// line, and without Secret content.
func TestVariables(t *testing.T) {
	vars, err := NewVariables(
		Source{Origin: "spec.variables", Values: map[string]string{"DOMAIN": "example.org", "CONTACT": "a@b"}},
		dotenvSource(".env.default", "# defaults\nSUBDOMAIN=kargo.$DOMAIN\nTITLE=\"Geo platform\" # quoted\nCONTACT=ops@${DOMAIN}\n"),
		dotenvSource(".env", "SUBDOMAIN=maps.${DOMAIN}\n"),
	)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"SUBDOMAIN": "maps.example.org", "TITLE": "Geo platform", "CONTACT": "ops@example.org", "DOMAIN": "example.org"} {
		if got, _ := vars.Lookup(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}

	_, err = NewVariables(dotenvSource("ConfigMap env key .env", "A=1\nB='unterminated\nC=3\n"))
	if err == nil || !strings.Contains(err.Error(), "ConfigMap env key .env: line") {
		t.Errorf("malformed .env: %v, want the source and the line", err)
	}
	secret := "A=1\nPASSWORD='hunter2\n"
	_, err = NewVariables(Source{Origin: "Secret s key .env", Dotenv: &secret, SecretName: "s"})
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "content not shown") {
		t.Errorf("malformed .env in a Secret: %v, want the line without the content", err)
	}
	_, err = NewVariables(
		Source{Origin: "Secret s", SecretName: "s", Values: map[string]string{"TOKEN": "hunter2"}},
		dotenvSource(".env", "COPY=$TOKEN\n"),
	)
	if err == nil || !strings.Contains(err.Error(), "reads variable TOKEN, which comes from Secret s") {
		t.Errorf("plain .env copying a Secret value: %v", err)
	}
}

// TestCatalogBuildsWithKustomize builds every catalog directory from disk
// with krusty, the kustomize kubectl kustomize runs, as kubectl apply -k
// would; the networks base included.
func TestCatalogBuildsWithKustomize(t *testing.T) {
	dirs, err := filepath.Glob("../../config/catalog/*/kustomization.yaml")
	if err != nil || len(dirs) < 36 {
		t.Fatalf("found %d catalog directories: %v", len(dirs), err)
	}
	for _, k := range dirs {
		dir := filepath.Dir(k)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
			if err != nil {
				t.Fatalf("kustomize build %s: %v", dir, err)
			}
			if len(res.Resources()) == 0 {
				t.Errorf("kustomize build %s: no resources", dir)
			}
		})
	}
}
