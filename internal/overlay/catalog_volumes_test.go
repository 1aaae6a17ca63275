package overlay

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// oldVolumesFile lists the named volumes and variable bind mounts of the old
// tool's compose files, written by reading them (see its header).
const oldVolumesFile = "testdata/old-volumes.tsv"

// oldVolume is a line of the [old] section: a mount of an old compose file.
type oldVolume struct {
	line                 int
	entry, file, service string
	source, target       string
	defaults             map[string]string // VAR -> default, from .env.default
	defaultsText         string
}

// newVolume is a line of the [new] section: a catalogue volume without an
// old counterpart, and why.
type newVolume struct {
	line                  int
	entry, source, target string
	reason                string
}

// readOldVolumes parses testdata/old-volumes.tsv.
func readOldVolumes(t *testing.T) ([]oldVolume, []newVolume) {
	t.Helper()
	f, err := os.Open(oldVolumesFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var olds []oldVolume
	var news []newVolume
	seen := map[string]int{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if line == "[old]" || line == "[new]" {
			section = line
			continue
		}
		fields := strings.Split(line, "\t")
		bad := func(format string, args ...any) {
			t.Fatalf("%s:%d: %s", oldVolumesFile, n, fmt.Sprintf(format, args...))
		}
		for _, field := range fields {
			if strings.TrimSpace(field) == "" {
				bad("empty field in %q", line)
			}
		}
		var key string // entry and target: listed once in the table
		switch section {
		case "[old]":
			if len(fields) != 6 {
				bad("want 6 tab-separated fields (entry, old file, old service, source, target, defaults), got %d", len(fields))
			}
			o := oldVolume{line: n, entry: fields[0], file: fields[1], service: fields[2], source: fields[3], target: fields[4], defaultsText: fields[5], defaults: map[string]string{}}
			if fields[5] != "-" {
				for _, d := range strings.Split(fields[5], ",") {
					name, value, ok := strings.Cut(d, "=")
					if !ok {
						bad("default %q is not VAR=value", d)
					}
					o.defaults[name] = value
				}
			}
			key = o.entry + " " + o.target
			olds = append(olds, o)
		case "[new]":
			if len(fields) != 4 {
				bad("want 4 tab-separated fields (entry, source, target, reason), got %d", len(fields))
			}
			key = fields[0] + " " + fields[2]
			news = append(news, newVolume{line: n, entry: fields[0], source: fields[1], target: fields[2], reason: fields[3]})
		default:
			bad("line outside the [old] and [new] sections")
		}
		if prev, dup := seen[key]; dup {
			bad("entry and target already listed on line %d", prev)
		}
		seen[key] = n
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(olds) == 0 || len(news) == 0 {
		t.Fatalf("%s: %d [old] and %d [new] lines, want some of each", oldVolumesFile, len(olds), len(news))
	}
	return olds, news
}

var (
	// wholeVariable is an old source that is one variable: a host directory.
	wholeVariable = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)
	// prefixVariable is an old source "${VAR}name": the _VOLUME_PATH
	// convention; name may hold variables and <n> (see memberName).
	prefixVariable = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}((?:[A-Za-z0-9_.-]|<n>|\$\{[A-Za-z_][A-Za-z0-9_]*\})+)$`)
	// nameVariable is a variable in the name of an old volume.
	nameVariable = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	// volumeName is a plain named volume.
	volumeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	// catalogVariable is a catalogue bind source: ${VAR:-default} or ${VAR:?message}.
	catalogVariable = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)(:-|:\?)([^}]*)\}$`)
)

// want is how the catalogue must mount an old source: its type, a
// description, and a check of its source; or an error in the table.
func (o oldVolume) want() (typ, why string, check func(source string) bool, err error) {
	if volumeName.MatchString(o.source) {
		if len(o.defaults) > 0 {
			return "", "", nil, fmt.Errorf("named volume %q has defaults %q", o.source, o.defaultsText)
		}
		return "volume", fmt.Sprintf("%q", o.source), func(s string) bool { return s == o.source }, nil
	}
	if m := wholeVariable.FindStringSubmatch(o.source); m != nil {
		name := m[1]
		def, ok := o.defaults[name]
		if len(o.defaults) > 1 || (len(o.defaults) == 1 && (!ok || def == "")) {
			return "", "", nil, fmt.Errorf("source %q: want defaults %s=<path> or -, got %q", o.source, name, o.defaultsText)
		}
		if ok {
			want := "${" + name + ":-" + def + "}"
			return "bind", fmt.Sprintf("%q", want), func(s string) bool { return s == want }, nil
		}
		return "bind", fmt.Sprintf(`"${%s:?...}" (the old files give no default)`, name), func(s string) bool {
			c := catalogVariable.FindStringSubmatch(s)
			return c != nil && c[1] == name && c[2] == ":?"
		}, nil
	}
	if m := prefixVariable.FindStringSubmatch(o.source); m != nil {
		name := m[1]
		if def, ok := o.defaults[name]; !ok || def != "" {
			return "", "", nil, fmt.Errorf("source %q: want defaults %s= (empty: a named volume by default), got %q", o.source, name, o.defaultsText)
		}
		volume, err := o.memberName(m[2], name)
		if err != nil {
			return "", "", nil, err
		}
		want := "${" + name + ":-}" + volume
		return "auto", fmt.Sprintf("%q (the volume %s while %s is empty, its default; the bind mount of that directory when set)", want, volume, name), func(s string) bool { return s == want }, nil
	}
	return "", "", nil, fmt.Errorf("source %q: want name, ${VAR} or ${VAR}name", o.source)
}

// memberName is how the catalogue writes the name of an old volume: each
// ${VAR} as ${VAR:-default} with its default from the table, and <n>, the
// index of a member of a template (mongors.yml.tpl wrote mongors0_data,
// mongors1_data, ...), as ${MEMBER_INDEX}. prefix is the _VOLUME_PATH
// variable before the name, whose default the table also holds.
func (o oldVolume) memberName(name, prefix string) (string, error) {
	vars := map[string]bool{prefix: true}
	var err error
	out := nameVariable.ReplaceAllStringFunc(name, func(ref string) string {
		v := nameVariable.FindStringSubmatch(ref)[1]
		vars[v] = true
		def, ok := o.defaults[v]
		if !ok || def == "" {
			err = fmt.Errorf("source %q: variable %s of the volume name needs its non-empty default in the defaults column, got %q", o.source, v, o.defaultsText)
		}
		return "${" + v + ":-" + def + "}"
	})
	if len(vars) != len(o.defaults) {
		return "", fmt.Errorf("source %q: defaults %q list variables the source does not use", o.source, o.defaultsText)
	}
	return strings.ReplaceAll(out, "<n>", "${"+MemberIndexVariable+"}"), err
}

// catalogMount is a mount of a catalogue Service, as written (unsubstituted).
type catalogMount struct {
	service, typ, source, target string
}

// catalogMounts builds a catalogue entry with kustomize, as Render does, and
// returns the volume mounts and the bind mounts whose source is a variable
// of its Services, unsubstituted.
func catalogMounts(t *testing.T, entry string) []catalogMount {
	t.Helper()
	mem := filesys.MakeFsInMemory()
	if err := copyEntry(mem, entry); err != nil {
		t.Fatal(err)
	}
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, "/catalog/"+entry)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", entry, err)
	}
	var out []catalogMount
	for _, r := range res.Resources() {
		if r.GetKind() != "Service" {
			continue
		}
		obj, err := r.Map()
		if err != nil {
			t.Fatal(err)
		}
		spec, _ := obj["spec"].(map[string]any)
		mounts, _ := spec["mounts"].([]any)
		for i, item := range mounts {
			m, _ := item.(map[string]any)
			typ, _ := m["type"].(string)
			source, _ := m["source"].(string)
			target, _ := m["target"].(string)
			if typ == "" {
				typ = "auto" // the render takes it from the substituted source
			}
			if strings.Contains(typ, "$") {
				t.Errorf("entry %s, service %s: spec.mounts[%d].type %q is a variable", entry, r.GetName(), i, typ)
				continue
			}
			if typ == "volume" || typ == "auto" || (typ == "bind" && strings.Contains(source, "$")) {
				out = append(out, catalogMount{service: r.GetName(), typ: typ, source: source, target: target})
			}
		}
	}
	return out
}

// TestCatalogVolumes: every catalogue entry mounts the data of the old tool
// under the old name (testdata/old-volumes.tsv, written from the old compose
// files and .env.default): the same named volume, or the same host directory
// variable with the old default. A catalogue volume the old tool did not have
// is listed in the table's [new] section with a reason, and named
// <entry>_data-like (<entry>_<suffix>, underscores).
func TestCatalogVolumes(t *testing.T) {
	olds, news := readOldVolumes(t)
	entries, err := Entries()
	if err != nil {
		t.Fatal(err)
	}
	inCatalog := map[string]bool{}
	for _, e := range entries {
		inCatalog[e.Name] = true
	}
	for _, o := range olds {
		if !inCatalog[o.entry] {
			t.Errorf("%s:%d: entry %s (old %s, %s at %s) is not in the catalogue", oldVolumesFile, o.line, o.entry, o.file, o.source, o.target)
		}
	}
	for _, n := range news {
		if !inCatalog[n.entry] {
			t.Errorf("%s:%d: [new] entry %s is not in the catalogue", oldVolumesFile, n.line, n.entry)
		}
	}

	for _, e := range entries {
		t.Run(e.Name, func(t *testing.T) {
			mounted := map[string]bool{}
			for _, m := range catalogMounts(t, e.Name) {
				mounted[m.target] = true
				if o, ok := findOld(olds, e.Name, m.target); ok {
					typ, why, check, err := o.want()
					if err != nil {
						t.Fatalf("%s:%d: %v", oldVolumesFile, o.line, err)
					}
					if m.typ != typ || !check(m.source) {
						t.Errorf("entry %s, target %s: the catalogue mounts %s %q; the old tool (%s, service %s) mounted %q, so want %s %s",
							e.Name, m.target, m.typ, m.source, o.file, o.service, o.source, typ, why)
					}
					continue
				}
				n, ok := findNew(news, e.Name, m.target)
				switch {
				case !ok:
					t.Errorf("entry %s, target %s: %s %q has no old counterpart in %s: use the old name, or list it in the [new] section with a reason",
						e.Name, m.target, m.typ, m.source, oldVolumesFile)
				case n.source != m.source:
					t.Errorf("entry %s, target %s: the catalogue mounts %s %q, the [new] section of %s (line %d) lists %q",
						e.Name, m.target, m.typ, m.source, oldVolumesFile, n.line, n.source)
				case m.typ == "volume" && !regexp.MustCompile(`^`+regexp.QuoteMeta(e.Name)+`_[a-z0-9_]+$`).MatchString(m.source):
					t.Errorf("entry %s, target %s: new volume %q: name it %s_data (underscores, as the old tool's volumes)", e.Name, m.target, m.source, e.Name)
				}
			}
			for _, o := range olds {
				if o.entry == e.Name && !mounted[o.target] {
					t.Errorf("entry %s, target %s: the old tool (%s, service %s) mounted %q there; the catalogue mounts no volume or variable directory there",
						e.Name, o.target, o.file, o.service, o.source)
				}
			}
			for _, n := range news {
				if n.entry == e.Name && !mounted[n.target] {
					t.Errorf("entry %s, target %s: listed in the [new] section of %s (line %d) as %q, but the catalogue mounts no volume there",
						e.Name, n.target, oldVolumesFile, n.line, n.source)
				}
			}
		})
	}
}

func findOld(olds []oldVolume, entry, target string) (oldVolume, bool) {
	for _, o := range olds {
		if o.entry == entry && o.target == target {
			return o, true
		}
	}
	return oldVolume{}, false
}

func findNew(news []newVolume, entry, target string) (newVolume, bool) {
	for _, n := range news {
		if n.entry == entry && n.target == target {
			return n, true
		}
	}
	return newVolume{}, false
}
