package compose

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// renderWorkspace is what kargo convert workspace prints.
func renderWorkspace(opts WorkspaceOptions) string {
	res, err := ConvertWorkspace(opts)
	if err != nil {
		return printed(nil, nil, err)
	}
	return printed(res.YAML, res.Warnings, nil)
}

func TestConvertWorkspace(t *testing.T) {
	dir := filepath.Join("testdata", "workspace")
	got := renderWorkspace(WorkspaceOptions{Dir: dir, Environment: "prod", Namespace: "geo"})
	golden(t, filepath.Join(dir, "workspace.golden"), got)
	for _, want := range []string{
		"namespace: kargo-dbs", "namespace: kargo-tools", // the old Swarm stack names
		"dependsOn:\n  - name: dbs",                                 // STACKS order
		"- name: mongodb\n", "- name: postgis\n", "- name: redis\n", // catalogue entries
		"swarmName: kargo-back\n", // the shared network, external
		"name: postgis-password\n    secretKeyRef:\n      key: POSTGIS_ROOT_PASSWORD\n      name: prod-secrets",
		"# POSTGIS_ROOT_PASSWORD: in Secret prod-secrets", // out of the ConfigMap
		"value: http://10.0.0.5:2376",                     // the bash forms, evaluated
		"key: REPORTER_TOKEN\n",                           // a credential in a converted file: a reference
		"hostname: worker-1",
		"tlsSecretRef:\n      name: prod-tls",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// The credentials are in the Secret only.
	for _, secret := range []string{"s3cr3t-postgis", "tok-123"} {
		if n := strings.Count(got, secret); n != 1 {
			t.Errorf("credential %q appears %d times, want once (in the Secret)", secret, n)
		}
	}
}

func TestConvertWorkspaceMistakes(t *testing.T) {
	_, err := ConvertWorkspace(WorkspaceOptions{Dir: filepath.Join("testdata", "workspace-mistakes")})
	var we *WorkspaceError
	if !errors.As(err, &we) {
		t.Fatalf("want a WorkspaceError, got %v", err)
	}
	for _, want := range []string{
		`STACKS lists "apps", but APPS_STACK is not set`,
		`DBS_STACK lists "mongo": there is no catalogue entry of that name (did you mean mongo-express, mongodb, `,
		`DBS_STACK lists "postgis": its secret postgis-password takes its value from POSTGIS_ROOT_PASSWORD, which is not set`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if len(we.Problems) != 3 {
		t.Errorf("want 3 problems, got %d:\n%v", len(we.Problems), err)
	}

	_, err = ConvertWorkspace(WorkspaceOptions{Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), ".env") {
		t.Errorf("a directory without .env: want an error naming .env, got %v", err)
	}
}

// TestConvertWorkspacePolicy: the Environment shares the networks of
// DOCKER_*_NETWORK its Stacks join, and each host path a Stack binds is a
// warning naming the Service and field, since the converted Environment
// has no spec.policy to allow it.
func TestConvertWorkspacePolicy(t *testing.T) {
	dir := t.TempDir()
	dotenv := "DOCKER_HOST=unix:///var/run/docker.sock\nDOCKER_NETWORK=front-net\nSTACKS=monitor\nMONITOR_STACK=\"node-exporter docker-socket-proxy\"\n"
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(dotenv), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := ConvertWorkspace(WorkspaceOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Environment.Spec.SharedNetworks, []string{"kargo-back", "kargo-docker-socket"}; !slices.Equal(got, want) {
		t.Errorf("sharedNetworks: got %q, want %q", got, want)
	}
	want := []string{
		`stack monitor: service docker-socket-proxy: mounts[0].source "/var/run/docker.sock": host path not allowed by the Environment's policy (spec.policy.allowedHostPaths: none)`,
		`stack monitor: service node-exporter: mounts[0].source "/": host path not allowed by the Environment's policy (spec.policy.allowedHostPaths: none)`,
	}
	for _, w := range want {
		if !slices.Contains(res.Warnings, w) {
			t.Errorf("warnings lack %q:\n%s", w, strings.Join(res.Warnings, "\n"))
		}
	}
}
