package compose

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with testdata/<name>/<name>.golden (rewritten with -update).
func golden(t *testing.T, file string, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/compose -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", file, got, want)
	}
}

// Render runs Convert and renders what kargo convert compose prints: the
// YAML on stdout, then the warnings (stderr) as comments; or the error.
func Render(opts Options) string {
	res, err := Convert(opts)
	if err != nil {
		return printed(nil, nil, err)
	}
	return printed(res.YAML, res.Warnings, nil)
}

// printed is what a kargo convert command prints: the YAML, then the
// warnings as comments; or the error.
func printed(yaml func() ([]byte, error), warnings []string, err error) string {
	if err != nil {
		return "# error:\n# " + strings.ReplaceAll(err.Error(), "\n", "\n# ") + "\n"
	}
	out, err := yaml()
	if err != nil {
		return "# error: " + err.Error() + "\n"
	}
	var b strings.Builder
	b.Write(out)
	if len(warnings) > 0 {
		b.WriteString("# warnings (stderr):\n")
		for _, w := range warnings {
			b.WriteString("#   " + w + "\n")
		}
	}
	return b.String()
}

func TestConvert(t *testing.T) {
	for _, tc := range []struct {
		name     string
		dir      string // default: name
		files    []string
		envFiles []string
		opts     Options
		wantErr  bool
		want     []string // strings the output must hold
	}{{
		name:  "full",
		files: []string{"compose.yaml"},
		opts:  Options{Namespace: "geo", Environment: "prod"},
		want: []string{
			"command:\n  - httpd\n", "args:\n  - -f\n", "memory: 64Mi", "encrypted: true",
			"kind: ConfigMap", "kind: Secret", "maxAttempts: 5", "mode: global",
		},
	}, {
		name:  "merge",
		files: []string{"a.yaml", "b.yaml"},
		want:  []string{"image: example/api:1.1", "value: debug", "value: eu", "replicas: 3", "app: api", "tier: front"},
	}, {
		name:     "envfile",
		files:    []string{"compose.yaml"},
		envFiles: []string{"first.env", "second.env"},
		want: []string{
			"image: registry.example.org/app:2.4", "replicas: 4", "value: example.org",
			"value: hello kargo", `value: "yes"`, "value: $HOME",
		},
	}, {
		name:  "networks",
		files: []string{"compose.yaml"},
		want:  []string{"swarmName: traefik-public", "swarmName: kargo-back", "name: default", "network unused: not used"},
	}, {
		name:     "files",
		files:    []string{"compose.yaml"},
		envFiles: []string{"secrets.env"},
		want:     []string{"name: files-configs", "name: files-secrets", "nginx.conf: |", "Welcome to kargo", "target: server.key"},
	}, {
		name:    "unsupported",
		files:   []string{"compose.yaml"},
		wantErr: true,
		want: []string{
			"service app: key cap_add:", "service app: key read_only:", "service app: healthcheck: key start_interval:",
			"service app: deploy.resources.limits: key pids:", "service app: volumes[0].bind: key propagation:",
			"volume logs: key external:",
		},
	}, {
		name:  "unsupported-allowed",
		dir:   "unsupported",
		files: []string{"compose.yaml"},
		opts:  Options{AllowUnsupported: true},
		want:  []string{"(left out: --allow-unsupported)", "memory: 32Mi"},
	}, {
		name:  "ignored",
		files: []string{"compose.yaml"},
		want: []string{
			"service app: key build: ignored", "service app: key container_name: ignored",
			"service app: key depends_on: ignored", "service app: key links: ignored",
			"service app: key restart: converted", "service db: key privileged: ignored",
			"service db: key restart: ignored, deploy.restart_policy is set",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir
			if dir == "" {
				dir = tc.name
			}
			goldenFile, err := filepath.Abs(filepath.Join("testdata", dir, tc.name+".golden"))
			if err != nil {
				t.Fatal(err)
			}
			t.Chdir(filepath.Join("testdata", dir))
			opts := tc.opts
			opts.Files, opts.EnvFiles, opts.Stack = tc.files, tc.envFiles, tc.name
			if tc.dir != "" {
				opts.Stack = tc.dir
			}
			got := Render(opts)
			_, err = Convert(opts)
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Errorf("error: %v, want an error: %v", err, tc.wantErr)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			golden(t, goldenFile, got)
		})
	}
}

func TestConvertErrors(t *testing.T) {
	var unsupported *UnsupportedError
	_, err := Convert(Options{Files: []string{"testdata/unsupported/compose.yaml"}, Stack: "x"})
	if !errors.As(err, &unsupported) || len(unsupported.Keys) < 6 {
		t.Errorf("want an UnsupportedError listing every key, got %v", err)
	}
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{Stack: "x"}, "no compose file"},
		{Options{Files: []string{"testdata/full/compose.yaml"}}, "no stack name"},
		{Options{Files: []string{"testdata/full/compose.yaml"}, Stack: "Bad_Name"}, "DNS label"},
		{Options{Files: []string{"testdata/nowhere.yaml"}, Stack: "x"}, "nowhere.yaml"},
		{Options{Files: []string{"testdata/files/compose.yaml"}, Stack: "x"}, "secret api-token: environment: variable API_TOKEN is not set"},
	} {
		if _, err := Convert(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want it to hold %q", tc.opts, err, tc.want)
		}
	}
}
