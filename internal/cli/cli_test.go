package cli

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/kargo-io/kargo/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// secretValues are the values of the Secrets in testdata: no output and no
// error may hold them.
var secretValues = []string{
	"kc-s3cret-pw",           // env.yaml, base64 data
	"metar-s3cret-pw",        // env.yaml, stringData
	"hidden-sub.example.net", // errors/secret-in-string.yaml
	"hidden-pw",              // errors/secret-dotenv.yaml
	"unused-t0ken-value",     // unused.yaml
}

// golden compares got with testdata/<name>.golden, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testenv.Golden(t, name, got, *update)
}

func noSecret(t *testing.T, what, text string) {
	t.Helper()
	for _, v := range secretValues {
		if strings.Contains(text, v) {
			t.Errorf("%s holds the Secret value %q:\n%s", what, v, text)
		}
	}
}

// render runs Render from testdata with stdin as the content of "-".
func render(t *testing.T, args []string, stdinFile string) (string, string, error) {
	t.Helper()
	t.Chdir("testdata")
	if stdinFile != "" {
		data, err := os.ReadFile(stdinFile)
		if err != nil {
			t.Fatal(err)
		}
		old := stdin
		stdin = bytes.NewReader(data)
		t.Cleanup(func() { stdin = old })
	}
	var stdout, stderr bytes.Buffer
	err := Render(args, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func TestRender(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		stdin  string
		golden string // default: name
		// want are strings the output must hold (beside the golden file).
		want []string
	}{{
		// Environment with spec.variables, a ConfigMap holding a whole .env
		// and a key/value Secret (base64 data and stringData); an
		// --env-file read last; two Stacks with patches, images, replicas.
		name: "geo",
		args: []string{"-f", "env.yaml", "-f", "stack.yaml", "--env-file", "extra.env"},
		want: []string{
			// the Secret-sourced variables became valueFrom references
			"valueFrom:\n      secretKeyRef:\n        key: K_CENTIPEDE_DB_URL\n        name: kargo-secrets",
			"valueFrom:\n      secretKeyRef:\n        key: K_METAR_DB_URL\n        name: kargo-secrets",
			"image: mongo:5.0", // extra.env over the ConfigMap's .env over spec.variables
			"image: registry.example.org/geoserver:2.20.0", // images + extra.env
			"value: geoserver.kargo.example.org",           // .env in a ConfigMap reading spec.variables
			"value: Europe/Paris",                          // a patch's ${TZ:-UTC}, set by extra.env
			"replicas: 2",                                  // GEOSERVER_REPLICAS from the ConfigMap's .env
			"max-size: 10m",                                // Environment defaults
			"# stack geo: config mongodb-conf (",
			"# stack tiles: config mapproxy-conf (",
		},
	}, {
		name: "tiles",
		args: []string{"-f", "env.yaml", "-f", "stack.yaml", "--stack", "tiles"},
		want: []string{"name: mapproxy", `value: "8"`},
	}, {
		name:   "stdin",
		args:   []string{"-f", "env.yaml", "-f", "-", "--stack", "tiles"},
		stdin:  "stack.yaml",
		golden: "tiles",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, err := render(t, tc.args, tc.stdin)
			if err != nil {
				t.Fatal(err)
			}
			if stderr != "" {
				t.Errorf("stderr: %s", stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			noSecret(t, "output", out)
			t.Chdir("..")
			name := tc.golden
			if name == "" {
				name = tc.name
			}
			golden(t, name, []byte(out))
		})
	}
}

// TestRenderWarnUnused: --warn-unused names, on one stderr line per
// Environment, the variables it sets that no Stack of it reads, sorted and
// without values; --stack still counts the Environment's other Stacks; the
// output is the same as without the flag.
func TestRenderWarnUnused(t *testing.T) {
	const warning = "kargo render: warning: Environment unused: 4 variable(s) set but read by no catalog entry or patch of its Stacks: APP_STACK, BASE_TAG, OLD_API_TOKEN, REDIS_TAGG\n"
	for _, tc := range []struct {
		name string
		args []string
		want string // stderr
	}{
		{"every Stack", []string{"-f", "unused.yaml", "--warn-unused"}, warning},
		// MONGODB_TAG is read by the Stack mongo, not rendered but counted.
		{"one Stack", []string{"-f", "unused.yaml", "--warn-unused", "--stack", "cache"}, warning},
		{"without the flag", []string{"-f", "unused.yaml"}, ""},
		{"nothing unused", []string{"-f", "env.yaml", "-f", "stack.yaml", "--env-file", "extra.env", "--warn-unused"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, err := render(t, tc.args, "")
			if err != nil {
				t.Fatal(err)
			}
			if stderr != tc.want {
				t.Errorf("stderr:\n got %q\nwant %q", stderr, tc.want)
			}
			noSecret(t, "stderr", stderr)
			noSecret(t, "output", out)
			var without []string
			for _, a := range tc.args {
				if a != "--warn-unused" {
					without = append(without, a)
				}
			}
			t.Chdir("..")
			plain, _, err := render(t, without, "")
			if err != nil {
				t.Fatal(err)
			}
			if out != plain || !strings.Contains(out, "kind: Service") {
				t.Errorf("the output with --warn-unused differs from the output without it, or holds no Service:\n%s", out)
			}
		})
	}
}

// TestRenderPolicy: what the Environment's policy refuses is a warning on
// stderr naming the Stack, its file, the Service and the field; the output
// is printed all the same.
// TestRenderClusterEnvironment: a Stack naming a ClusterEnvironment is
// rendered with its variables and defaults, not those of the Environment
// of the same name; --warn-unused names it by kind.
func TestRenderClusterEnvironment(t *testing.T) {
	out, stderr, err := render(t, []string{"-f", "cluster-env.yaml", "--warn-unused"}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"name: redis", "value: Europe/Paris", "max-size: 20m"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "value: UTC") {
		t.Errorf("rendered with the Environment's variables:\n%s", out)
	}
	want := "kargo render: warning: ClusterEnvironment shared: 1 variable(s) set but read by no catalog entry or patch of its Stacks: UNREAD\n"
	if stderr != want {
		t.Errorf("stderr:\n got %q\nwant %q", stderr, want)
	}
}

func TestRenderPolicy(t *testing.T) {
	out, stderr, err := render(t, []string{"-f", "policy.yaml"}, "")
	if err != nil {
		t.Fatal(err)
	}
	want := `kargo render: warning: Stack nodes (file policy.yaml: document 2 (line 11)): service node-exporter: mounts[0].source "/": host path not allowed by the Environment's policy (spec.policy.allowedHostPaths: /var/log)` + "\n"
	if stderr != want {
		t.Errorf("stderr:\n got %q\nwant %q", stderr, want)
	}
	if !strings.Contains(out, "name: node-exporter") {
		t.Errorf("output lacks the Service:\n%s", out)
	}
}

func TestRenderErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string // the error must hold each
	}{{
		name: "unknown catalog entry",
		args: []string{"-f", "env.yaml", "-f", "errors/unknown-entry.yaml"},
		want: []string{"Stack broken", "file errors/unknown-entry.yaml", "spec.services[0].catalog", `"postgres-nosuch"`},
	}, {
		name: "patch target matching nothing",
		args: []string{"-f", "env.yaml", "-f", "errors/patch-target.yaml"},
		want: []string{"Stack broken", "file errors/patch-target.yaml", "spec.patches[0].target", `"mapserver"`},
	}, {
		name: "variable without value or default",
		args: []string{"-f", "errors/unset.yaml"},
		want: []string{"Stack broken", "service geoserver", "spec.env[2].value", "variable SUBDOMAIN is not set"},
	}, {
		name: "malformed env file",
		args: []string{"-f", "env.yaml", "-f", "stack.yaml", "--env-file", "errors/bad.env"},
		want: []string{"file errors/bad.env: line 3:", "key cannot contain a space"},
	}, {
		name: "unknown environmentRef",
		args: []string{"-f", "env.yaml", "-f", "errors/other-env.yaml"},
		want: []string{"Stack broken", "file errors/other-env.yaml", "spec.environmentRef.name", `"staging"`, "found: local"},
	}, {
		name: "unknown ClusterEnvironment",
		args: []string{"-f", "env.yaml", "-f", "errors/other-cluster-env.yaml"},
		want: []string{"Stack broken", "file errors/other-cluster-env.yaml", "no ClusterEnvironment in the files"},
	}, {
		name: "two Environments and no environmentRef",
		args: []string{"-f", "env.yaml", "-f", "errors/two-envs.yaml"},
		want: []string{"Stack broken", "2 Environments (local, staging)"},
	}, {
		name: "Secret value inside a larger string",
		args: []string{"-f", "errors/secret-in-string.yaml"},
		want: []string{"Stack broken", "service geoserver", "spec.env[2].value", "variable SUBDOMAIN comes from a Secret"},
	}, {
		name: "Secret value copied by an env file",
		args: []string{"-f", "env.yaml", "-f", "stack.yaml", "--env-file", "errors/copy.env"},
		want: []string{"file errors/copy.env", "variable K_CENTIPEDE_DB_URL", "Secret kargo-secrets"},
	}, {
		name: "malformed env file in a Secret",
		args: []string{"-f", "errors/secret-dotenv.yaml"},
		want: []string{"Environment hush", "Secret hush-dotenv key .env", "line 3", "content not shown"},
	}, {
		name: "missing ConfigMap",
		args: []string{"-f", "errors/missing-configmap.yaml"},
		want: []string{"Environment staging", "spec.variablesFrom[0]", "ConfigMap nowhere", "not found"},
	}, {
		name: "YAML that does not parse",
		args: []string{"-f", "env.yaml", "-f", "errors/broken.yaml"},
		want: []string{"file errors/broken.yaml: document 2 (line 8)", "yaml: line 12"},
	}, {
		name: "unknown field",
		args: []string{"-f", "env.yaml", "-f", "errors/unknown-field.yaml"},
		want: []string{"file errors/unknown-field.yaml: document 1", "Stack broken", `unknown field "service"`},
	}, {
		name: "bad base64 in a Secret",
		args: []string{"-f", "env.yaml", "-f", "stack.yaml", "-f", "errors/bad-base64.yaml"},
		want: []string{"file errors/bad-base64.yaml: document 1", "Secret mangled", "base64"},
	}, {
		name: "unknown --stack",
		args: []string{"-f", "env.yaml", "-f", "stack.yaml", "--stack", "nope"},
		want: []string{"--stack nope", "found: geo, tiles"},
	}, {
		name: "no file",
		args: []string{"--stack", "geo"},
		want: []string{"no file given"},
	}, {
		name: "missing file",
		args: []string{"-f", "nowhere.yaml"},
		want: []string{"file nowhere.yaml"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := render(t, tc.args, "")
			if err == nil {
				t.Fatalf("no error; output:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			noSecret(t, "error", err.Error())
			if out != "" {
				t.Errorf("an error, yet output:\n%s", out)
			}
		})
	}
}

// TestSecretData checks that both forms of Secret data are read: base64
// data and stringData.
func TestSecretData(t *testing.T) {
	objs := newObjects()
	if err := objs.readFile("testdata/env.yaml", io.Discard); err != nil {
		t.Fatal(err)
	}
	data := objs.secrets["kargo-secrets"].data
	if got := data["K_CENTIPEDE_DB_URL"]; got != "mongodb://kc:kc-s3cret-pw@mongodb:27017/k-centipede" {
		t.Errorf("data (base64): %q", got)
	}
	if got := data["K_METAR_DB_URL"]; got != "mongodb://metar:metar-s3cret-pw@mongodb:27017/k-metar" {
		t.Errorf("stringData: %q", got)
	}
	if got := objs.configMaps["kargo-dotenv"].data[".env"]; !strings.Contains(got, "SUBDOMAIN=kargo.$DOMAIN") {
		t.Errorf("ConfigMap .env: %q", got)
	}
}

// TestRenderSkips checks that documents of other kinds are skipped with a
// warning naming them.
func TestRenderSkips(t *testing.T) {
	_, stderr, err := render(t, []string{"-f", "env.yaml", "-f", "stack.yaml", "-f", "../../../config/samples/swarm_v1alpha1_service_web.yaml", "--stack", "tiles"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "swarm_v1alpha1_service_web.yaml: document 1 (line 1): skipped (swarm.kargo.io/v1alpha1 Service web)") {
		t.Errorf("stderr: %q", stderr)
	}
}

func TestCatalog(t *testing.T) {
	var out bytes.Buffer
	if err := Catalog(nil, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[0], "SUMMARY") {
		t.Errorf("header: %q", lines[0])
	}
	if n := len(lines) - 1; n < 35 {
		t.Errorf("%d entries, want at least 35", n)
	}
	names := map[string]bool{}
	for _, l := range lines[1:] {
		names[strings.Fields(l)[0]] = true
	}
	for _, want := range []string{"geoserver", "mapproxy", "mongodb"} {
		if !names[want] {
			t.Errorf("no entry %s in:\n%s", want, out.String())
		}
	}
	if names["networks"] {
		t.Errorf("networks (no service.yaml) is listed")
	}

	out.Reset()
	if err := Catalog([]string{"-o", "wide"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "IMAGE") {
		t.Errorf("-o wide has no IMAGE column:\n%s", out.String())
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "mongodb ") && !strings.HasSuffix(l, "${MONGODB_IMAGE:-mongo}:${MONGODB_TAG:-4.2}") {
			t.Errorf("mongodb line: %q", l)
		}
	}

	if err := Catalog([]string{"-o", "json"}, &out); err == nil || !strings.Contains(err.Error(), "-o json") {
		t.Errorf("-o json: %v", err)
	}
	if err := Catalog([]string{"extra"}, &out); err == nil || !strings.Contains(err.Error(), `"extra"`) {
		t.Errorf("positional argument: %v", err)
	}
}

// TestRenderNoLibraryLog: compose-go logs, through logrus, a variable it
// substitutes with nothing (here the default of a default); kargo render
// prints no such raw line. An old .env with bash forms renders, and one
// with a command substitution is an error naming the file and the line.
func TestRenderNoLibraryLog(t *testing.T) {
	// compose-go logs an unset nested default through logrus' standard
	// logger: internal/overlay sends it nowhere.
	if out := logrus.StandardLogger().Out; out != io.Discard {
		t.Fatalf("logrus writes to %T: compose-go's warnings would reach the user raw", out)
	}
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		file := filepath.Join(dir, name)
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return file
	}
	stack := write("stack.yaml", `apiVersion: swarm.kargo.io/v1alpha1
kind: Stack
metadata: {name: quiet}
spec:
  services:
    - name: mongodb
  patches:
    - patch: |
        apiVersion: swarm.kargo.io/v1alpha1
        kind: Service
        metadata: {name: mongodb}
        spec:
          env:
            - {name: NESTED, value: "${KARGO_TEST_UNSET_A:-${KARGO_TEST_UNSET_B}}"}
            - {name: PORT, value: "${DOCKER_HOST_PORT}"}
`)
	env := write("env.yaml", `apiVersion: swarm.kargo.io/v1alpha1
kind: Environment
metadata: {name: swarm}
spec:
  endpoint: {host: "tcp://10.0.0.1:2376", insecure: true}
`)
	dotenv := write("old.env", "DOCKER_HOST_IP=${DOCKER_HOST:6:$((`expr length $DOCKER_HOST`-11))}\nDOCKER_HOST_PORT=${DOCKER_HOST: -4}\n")
	var stdout, stderr bytes.Buffer
	if err := Render([]string{"-f", env, "-f", stack, "--env-file", dotenv}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "value: \"2376\"") {
		t.Errorf("DOCKER_HOST_PORT from the endpoint through the bash forms:\n%s", stdout.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("raw library output:\n%s", stderr.String())
	}

	bad := write("bad.env", "# a command the old tool ran\nA=1\nUID=`id -u`\n")
	err := Render([]string{"-f", env, "-f", stack, "--env-file", bad}, &stdout, &stderr)
	if want := "file " + bad + ": line 3: command substitution `id -u` is not supported"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want it to hold %q", err, want)
	}
}
