package overlay

import (
	"bufio"
	"bytes"
	"io/fs"
	"strings"

	"github.com/kargo-io/kargo/config/catalog"
)

// Entry describes one entry of the default configuration.
type Entry struct {
	// Name to pick it with (spec.services[].catalog).
	Name string
	// Summary is the first line of its service.yaml header.
	Summary string
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
		out = append(out, Entry{Name: d.Name(), Summary: summary(data)})
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
