package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/kargo-io/kargo/api/v1alpha1"
)

// stdin is what "-f -" reads; tests replace it.
var stdin io.Reader = os.Stdin

// document locates one YAML document for error messages.
type document struct {
	file  string
	index int // 1-based, among the non-empty documents of the file
	line  int // line of its first line in the file
}

func (d document) String() string {
	return fmt.Sprintf("file %s: document %d (line %d)", d.file, d.index, d.line)
}

// sourceData is the data of a ConfigMap or Secret read from a file.
type sourceData struct {
	doc  document
	data map[string]string
}

// objects is what the -f files hold.
type objects struct {
	// environments are the Environments and ClusterEnvironments.
	environments []v1alpha1.EnvironmentObject
	envDocs      map[string]document // by environmentLabel
	stacks       []*v1alpha1.Stack
	stackDocs    map[string]document // by Stack name
	configMaps   map[string]sourceData
	secrets      map[string]sourceData
}

func newObjects() *objects {
	return &objects{
		envDocs:    map[string]document{},
		stackDocs:  map[string]document{},
		configMaps: map[string]sourceData{},
		secrets:    map[string]sourceData{},
	}
}

// readFile reads one -f argument ("-" is stdin) into objs. Documents of
// other kinds are skipped with a warning on stderr.
func (objs *objects) readFile(name string, stderr io.Writer) error {
	return eachDocument(name, func(doc document, head map[string]any, data []byte) error {
		return objs.add(doc, head, data, stderr)
	})
}

// eachDocument reads one -f argument ("-" is stdin) and calls fn with each
// non-empty YAML document, decoded (head) and as written (data); errors
// name the file, document and line.
func eachDocument(name string, fn func(doc document, head map[string]any, data []byte) error) error {
	var data []byte
	var err error
	if name == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return fmt.Errorf("file %s: %w", name, err)
	}
	index := 0
	for _, chunk := range splitDocuments(data) {
		var head map[string]any
		if err := yaml.Unmarshal(chunk.data, &head); err != nil {
			index++
			return fmt.Errorf("%s: %s", document{file: name, index: index, line: chunk.line}, fileLines(err.Error(), chunk.line))
		}
		if head == nil {
			continue // empty, or comments only
		}
		index++
		doc := document{file: name, index: index, line: chunk.line}
		if err := fn(doc, head, chunk.data); err != nil {
			return fmt.Errorf("%s: %w", doc, err)
		}
	}
	return nil
}

func (objs *objects) add(doc document, head map[string]any, data []byte, stderr io.Writer) error {
	apiVersion, _ := head["apiVersion"].(string)
	kind, _ := head["kind"].(string)
	var name string
	if meta, ok := head["metadata"].(map[string]any); ok {
		name, _ = meta["name"].(string)
	}
	known := true
	switch {
	case apiVersion == v1alpha1.GroupVersion.String() && (kind == "Environment" || kind == "ClusterEnvironment" || kind == "Stack"),
		apiVersion == "v1" && (kind == "ConfigMap" || kind == "Secret"):
	default:
		known = false
	}
	if !known {
		what := "no apiVersion and kind"
		if kind != "" || apiVersion != "" {
			what = fmt.Sprintf("%s %s %s", apiVersion, kind, name)
		}
		fmt.Fprintf(stderr, "kargo render: %s: skipped (%s): render reads Environments, ClusterEnvironments, Stacks, ConfigMaps and Secrets\n", doc, strings.TrimSpace(what))
		return nil
	}
	if name == "" {
		return fmt.Errorf("%s without metadata.name", kind)
	}
	switch kind {
	case "Environment", "ClusterEnvironment":
		var env v1alpha1.EnvironmentObject = &v1alpha1.Environment{}
		if kind == "ClusterEnvironment" {
			env = &v1alpha1.ClusterEnvironment{}
		}
		if err := yaml.UnmarshalStrict(data, env); err != nil {
			return fmt.Errorf("%s %s: %w", kind, name, err)
		}
		label := environmentLabel(env)
		if prev, ok := objs.envDocs[label]; ok {
			return fmt.Errorf("a second %s (the first: %s)", label, prev)
		}
		objs.environments = append(objs.environments, env)
		objs.envDocs[label] = doc
	case "Stack":
		stack := &v1alpha1.Stack{}
		if err := yaml.UnmarshalStrict(data, stack); err != nil {
			return fmt.Errorf("Stack %s: %w", name, err)
		}
		if prev, ok := objs.stackDocs[name]; ok {
			return fmt.Errorf("a second Stack named %s (the first: %s)", name, prev)
		}
		objs.stacks = append(objs.stacks, stack)
		objs.stackDocs[name] = doc
	case "ConfigMap":
		cm := &corev1.ConfigMap{}
		if err := yaml.UnmarshalStrict(data, cm); err != nil {
			return fmt.Errorf("ConfigMap %s: %w", name, err)
		}
		if prev, ok := objs.configMaps[name]; ok {
			return fmt.Errorf("a second ConfigMap named %s (the first: %s)", name, prev.doc)
		}
		values := map[string]string{}
		for k, v := range cm.BinaryData {
			values[k] = string(v)
		}
		for k, v := range cm.Data {
			values[k] = v
		}
		objs.configMaps[name] = sourceData{doc: doc, data: values}
	case "Secret":
		// The decoding errors of sigs.k8s.io/yaml and encoding/json name
		// fields and types, never values.
		secret := &corev1.Secret{}
		if err := yaml.UnmarshalStrict(data, secret); err != nil {
			return fmt.Errorf("Secret %s: %w", name, err)
		}
		if prev, ok := objs.secrets[name]; ok {
			return fmt.Errorf("a second Secret named %s (the first: %s)", name, prev.doc)
		}
		values := map[string]string{}
		for k, v := range secret.Data { // base64 in the file, decoded by encoding/json
			values[k] = string(v)
		}
		for k, v := range secret.StringData { // wins over data, as on the API server
			values[k] = v
		}
		objs.secrets[name] = sourceData{doc: doc, data: values}
	}
	return nil
}

type chunk struct {
	data []byte
	line int
}

// splitDocuments splits a YAML stream on its "---" lines, keeping the line
// each document starts at.
func splitDocuments(data []byte) []chunk {
	var out []chunk
	var cur bytes.Buffer
	start := 1
	lines := bytes.SplitAfter(data, []byte("\n"))
	for i, line := range lines {
		if isSeparator(line) {
			out = append(out, chunk{data: bytes.Clone(cur.Bytes()), line: start})
			cur.Reset()
			start = i + 2
			continue
		}
		cur.Write(line)
	}
	return append(out, chunk{data: cur.Bytes(), line: start})
}

var yamlLine = regexp.MustCompile(`\byaml: line (\d+):`)

// fileLines turns the document line numbers of a YAML parser message into
// line numbers of the file.
func fileLines(msg string, start int) string {
	return yamlLine.ReplaceAllStringFunc(msg, func(m string) string {
		n, err := strconv.Atoi(yamlLine.FindStringSubmatch(m)[1])
		if err != nil {
			return m
		}
		return fmt.Sprintf("yaml: line %d:", start+n-1)
	})
}

func isSeparator(line []byte) bool {
	rest, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r\n"), []byte("---"))
	if !ok {
		return false
	}
	rest = bytes.TrimSpace(rest)
	return len(rest) == 0 || rest[0] == '#'
}

func environmentNames(envs []v1alpha1.EnvironmentObject) string {
	names := make([]string, 0, len(envs))
	for _, e := range envs {
		names = append(names, e.GetName())
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// environmentLabel names an Environment or ClusterEnvironment in messages,
// e.g. "ClusterEnvironment shared": the two kinds may share names.
func environmentLabel(env v1alpha1.EnvironmentObject) string {
	ref := env.EnvironmentReference()
	return ref.Kind + " " + ref.Name
}
