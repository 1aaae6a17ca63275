package overlay

import (
	"bufio"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/kargo-io/kargo/config/catalog"
)

// TestCatalogVariables checks that every variable a catalog entry reads is
// either a variable of the old tool (testdata/old-variables.txt, [old],
// written from its compose files and .env files) or listed there as new with
// the reason it exists ([new]): the catalogue speaks the old tool's
// variables, and a new name is a decision, not a slip.
func TestCatalogVariables(t *testing.T) {
	old, added := readVariableTable(t, "testdata/old-variables.txt")
	entries, err := Entries()
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, e := range entries {
		data, err := fs.ReadFile(catalog.FS, e.Name+"/service.yaml")
		if err != nil {
			t.Fatal(err)
		}
		var vars []string
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			vars = append(vars, references(line)...)
		}
		for _, v := range vars {
			used[v] = true
			if !old[v] && added[v] == "" {
				t.Errorf("entry %s: variable %s is neither an old tool variable nor listed as new (with its reason) in testdata/old-variables.txt", e.Name, v)
			}
		}
	}
	for v := range added {
		if old[v] {
			t.Errorf("old-variables.txt: %s is listed both as old and as new", v)
		}
		if !used[v] {
			t.Errorf("old-variables.txt: new variable %s is read by no entry", v)
		}
	}
}

// TestReferences checks the reference scanner on every form compose accepts.
func TestReferences(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"${A}", []string{"A"}},
		{"${A:-d}:${B-x}", []string{"A", "B"}},
		{"${A:?A must be set: basic auth of x}", []string{"A"}},
		{"${A:-${B:-${C:?m}}}", []string{"A", "B", "C"}},
		{"$A and $B_2/x", []string{"A", "B_2"}},
		{"$$(cat /run/secrets/x) $$CRON $${NOT}", nil},
		{"no variable $ 1", nil},
	} {
		if got := references(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("references(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// references lists the variables a string reads, in order: ${X}, ${X:-d},
// ${X-d}, ${X:?m}, ${X?m}, nested defaults, and bare $X; $$ is a literal
// dollar.
func references(s string) []string {
	var out []string
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			continue
		}
		switch next := s[i+1]; {
		case next == '$':
			i++
		case next == '{':
			if n := nameAt(s[i+2:]); n != "" {
				out = append(out, n)
			}
		default:
			if n := nameAt(s[i+1:]); n != "" {
				out = append(out, n)
			}
		}
	}
	return out
}

func nameAt(s string) string {
	end := 0
	for end < len(s) && (s[end] == '_' || s[end] >= 'A' && s[end] <= 'Z' || s[end] >= 'a' && s[end] <= 'z' || end > 0 && s[end] >= '0' && s[end] <= '9') {
		end++
	}
	return s[:end]
}

// readVariableTable reads old-variables.txt: [old] lines are names, [new]
// lines are "NAME  reason".
func readVariableTable(t *testing.T, file string) (old map[string]bool, added map[string]string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old, added = map[string]bool{}, map[string]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case line == "[old]" || line == "[new]":
			section = line
		case section == "[old]":
			if strings.ContainsAny(line, " \t") {
				t.Fatalf("%s:%d: an [old] line is one variable name: %q", file, n, line)
			}
			old[line] = true
		case section == "[new]":
			name, reason, _ := strings.Cut(line, " ")
			if strings.TrimSpace(reason) == "" {
				t.Fatalf("%s:%d: new variable %s without its reason", file, n, name)
			}
			added[name] = strings.TrimSpace(reason)
		default:
			t.Fatalf("%s:%d: line outside [old] and [new]: %q", file, n, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return old, added
}
