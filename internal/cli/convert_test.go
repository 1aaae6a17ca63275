package cli

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// run runs the kargo command as main does.
func run(args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	code = Main(args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// TestConvertCompose runs kargo convert compose end to end on a case of
// internal/compose/testdata: stdout is the YAML of its golden file, stderr
// its warnings.
func TestConvertCompose(t *testing.T) {
	dir := "../compose/testdata/ignored/"
	want, err := os.ReadFile(dir + "ignored.golden")
	if err != nil {
		t.Fatal(err)
	}
	yaml, warnings, _ := strings.Cut(string(want), "# warnings (stderr):\n")
	stdout, stderr, code := run("convert", "compose", "-f", dir+"compose.yaml", "--stack", "ignored")
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
	}
	if stdout != yaml {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, yaml)
	}
	wantErr := strings.ReplaceAll(warnings, "#   ", "warning: ")
	if stderr != wantErr {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, wantErr)
	}

	// A key Kargo cannot express: exit code 1, the service and key named.
	stdout, stderr, code = run("convert", "compose", "-f", "../compose/testdata/unsupported/compose.yaml", "--stack", "u")
	if code != 1 || stdout != "" || !strings.Contains(stderr, "service app: key cap_add:") {
		t.Errorf("unsupported: code %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
	stdout, stderr, code = run("convert", "compose", "-f", "../compose/testdata/unsupported/compose.yaml", "--stack", "u", "--allow-unsupported")
	if code != 0 || !strings.Contains(stdout, "kind: Stack") || !strings.Contains(stderr, "warning: service app: key cap_add:") {
		t.Errorf("--allow-unsupported: code %d, stderr:\n%s", code, stderr)
	}
	if _, stderr, code = run("convert", "compose", "-f", dir+"compose.yaml"); code != 1 || !strings.Contains(stderr, `"stack" not set`) {
		t.Errorf("no --stack: code %d, stderr %q", code, stderr)
	}
}

// TestConvertWorkspace runs kargo convert workspace end to end on the
// workspaces of internal/compose/testdata: stdout is the YAML of the golden
// file, stderr its warnings; the mistakes are all named, exit code 1.
func TestConvertWorkspace(t *testing.T) {
	dir := "../compose/testdata/workspace"
	want, err := os.ReadFile(dir + "/workspace.golden")
	if err != nil {
		t.Fatal(err)
	}
	yaml, warnings, _ := strings.Cut(string(want), "# warnings (stderr):\n")
	stdout, stderr, code := run("convert", "workspace", dir, "--environment", "prod", "--namespace", "geo")
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
	}
	if stdout != yaml {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, yaml)
	}
	if wantErr := strings.ReplaceAll(warnings, "#   ", "warning: "); stderr != wantErr {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, wantErr)
	}

	stdout, stderr, code = run("convert", "workspace", "../compose/testdata/workspace-mistakes")
	if code != 1 || stdout != "" || !strings.Contains(stderr, "APPS_STACK is not set") || !strings.Contains(stderr, `DBS_STACK lists "mongo"`) {
		t.Errorf("mistakes: code %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
	if _, stderr, code = run("convert", "workspace"); code != 1 || !strings.Contains(stderr, "accepts 1 arg") {
		t.Errorf("no DIR: code %d, stderr %q", code, stderr)
	}
}

// TestCommands checks the command layout: help of each command, the
// delegated render/catalog, completion, unknown commands.
func TestCommands(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"manager", "--help"}, {"render", "--help"}, {"catalog", "-h"},
		{"convert", "--help"}, {"convert", "compose", "--help"}, {"convert", "workspace", "--help"}, {"completion", "--help"},
	} {
		stdout, stderr, code := run(args...)
		if code != 0 || !strings.Contains(stdout, "Usage:") || !strings.Contains(stdout, "Examples:") || stderr != "" {
			t.Errorf("%v: code %d, stdout:\n%s\nstderr:\n%s", args, code, stdout, stderr)
		}
	}
	if stdout, _, code := run("manager", "--help"); code != 0 || !strings.Contains(stdout, "--metrics-bind-address string") ||
		!strings.Contains(stdout, `(default ":8081")`) || !strings.Contains(stdout, "--leader-elect") || !strings.Contains(stdout, "--zap-log-level") {
		t.Errorf("manager flags:\n%s", stdout)
	}
	// A bad --allowed-endpoints pattern stops the manager before it starts,
	// naming the pattern.
	if _, stderr, code := run("manager", "--allowed-endpoints", "10.0.0.0/8:2376,swarm.example.org"); code != 1 ||
		!strings.Contains(stderr, `"swarm.example.org": want host:port`) || !strings.Contains(stderr, "--allowed-endpoints") {
		t.Errorf("bad --allowed-endpoints: code %d, stderr %q", code, stderr)
	}
	if stdout, _, code := run("catalog", "-o", "wide"); code != 0 || !strings.Contains(stdout, "IMAGE") {
		t.Errorf("catalog -o wide: code %d\n%s", code, stdout)
	}
	if _, stderr, code := run("catalog", "-o", "json"); code != 1 || !strings.Contains(stderr, "kargo: catalog: -o json") {
		t.Errorf("catalog -o json: code %d, stderr %q", code, stderr)
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if stdout, _, code := run("completion", shell); code != 0 || !strings.Contains(stdout, "kargo") {
			t.Errorf("completion %s: code %d", shell, code)
		}
	}
	if _, stderr, code := run("nosuch"); code != 1 || !strings.Contains(stderr, `unknown command "nosuch"`) {
		t.Errorf("unknown command: code %d, stderr %q", code, stderr)
	}
}
