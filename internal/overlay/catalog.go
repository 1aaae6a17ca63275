package overlay

import (
	"bufio"
	"bytes"
	"io/fs"
	"sort"
	"strings"

	"github.com/kargo-io/kargo/config/catalog"
)

// Entry describes one entry of the default configuration.
type Entry struct {
	// Name to pick it with (spec.services[].catalog).
	Name string
	// Summary is the first line of its service.yaml header, followed by
	// the entry's aliases, if any ("(alias: k-vigicrues)"), so that
	// kargo catalog shows them.
	Summary string
	// Aliases are former names that still pick this entry.
	Aliases []string
}

// aliases maps the names entries had before they took the old tool's names
// back (the old compose file names) to those names. A Stack picking an alias
// renders the entry; nothing else differs.
var aliases = map[string]string{
	"k-vigicrues":               "vigicrues",
	"k-hubeau-stations":         "hubeau-stations",
	"k-hubeau-observations":     "hubeau-observations",
	"k-teleray":                 "teleray",
	"k-openaq":                  "openaq",
	"k-openradiation":           "openradiation",
	"k-metar":                   "metar",
	"k-taf":                     "taf",
	"k-meteoradar":              "meteoradar",
	"k-centipede":               "centipede",
	"weacast-arpege-world":      "arpege-world-loader",
	"weacast-arpege-europe":     "arpege-europe-loader",
	"weacast-arome-france":      "arome-france-loader",
	"weacast-arome-france-high": "arome-france-high-loader",
	"weacast-gfs-world":         "gfs-world-loader",
}

// Resolve returns the entry a name picks: the entry of that name, or the
// one an alias stands for. An unknown name is returned as is (rendering
// then reports it).
func Resolve(name string) string {
	if isEntry(name) {
		return name
	}
	if entry, ok := aliases[name]; ok {
		return entry
	}
	return name
}

// aliasesOf lists the aliases of an entry, sorted.
func aliasesOf(entry string) []string {
	var out []string
	for alias, e := range aliases {
		if e == entry {
			out = append(out, alias)
		}
	}
	sort.Strings(out)
	return out
}

// Entries lists the catalog, sorted by name. Directories without a
// service.yaml (the shared networks Stack) are not entries.
func Entries() ([]Entry, error) {
	dirs, err := fs.ReadDir(catalog.FS, ".")
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, d := range dirs {
		if !d.IsDir() || !isEntry(d.Name()) {
			continue
		}
		data, err := fs.ReadFile(catalog.FS, d.Name()+"/service.yaml")
		if err != nil {
			return nil, err
		}
		e := Entry{Name: d.Name(), Summary: summary(data), Aliases: aliasesOf(d.Name())}
		if len(e.Aliases) > 0 {
			e.Summary += " (alias: " + strings.Join(e.Aliases, ", ") + ")"
		}
		out = append(out, e)
	}
	return out, nil
}

func isEntry(name string) bool {
	_, err := fs.Stat(catalog.FS, name+"/service.yaml")
	return err == nil
}

// summary is the first sentence of the header comment, without the
// "<name>: " lead.
func summary(data []byte) string {
	var words []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		text := strings.TrimSpace(strings.TrimPrefix(line, "#"))
		if !strings.HasPrefix(line, "#") || (text == "" && len(words) > 0) {
			break
		}
		if text != "" {
			words = append(words, text)
		}
	}
	sentence := strings.Join(words, " ")
	if end := strings.Index(sentence, ". "); end >= 0 {
		sentence = sentence[:end]
	}
	sentence = strings.TrimSuffix(sentence, ".")
	if _, rest, ok := strings.Cut(sentence, ": "); ok {
		return rest
	}
	return sentence
}
