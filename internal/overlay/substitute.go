package overlay

import (
	"io"

	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/compose-spec/compose-go/v2/template"

	"github.com/kargo-io/kargo/api/v1alpha1"
)

// compose-go's template logs through logrus' standard logger ("The "X"
// variable is not set. Defaulting to a blank string."). Kargo reports what
// it finds as errors of its own: no raw library line reaches a terminal or
// the manager's log, in any command of the binary that renders.
func init() { logrus.SetOutput(io.Discard) }

var serviceType = reflect.TypeOf(v1alpha1.Service{})

// substitute resolves the ${VAR} references of a rendered Service in place,
// with compose's rules (${VAR:-default}, ${VAR:?message}, $$ for a dollar),
// except that a variable neither set nor defaulted is an error, not an empty
// string. A variable from a key/value Secret used as a whole env value
// becomes a valueFrom reference to that Secret key, so that Secret values
// never land in a Service object; used anywhere else it is an error.
func substitute(obj map[string]any, vars *Variables) error {
	var errs []error
	if spec, ok := obj["spec"].(map[string]any); ok {
		if env, ok := spec["env"].([]any); ok {
			for i, item := range env {
				if e, ok := item.(map[string]any); ok {
					if err := secretEnv(e, vars); err != nil {
						errs = append(errs, fmt.Errorf("spec.env[%d].value: %w", i, err))
					}
				}
			}
		}
	}
	for _, key := range []string{"metadata", "spec"} {
		if v, ok := obj[key]; ok {
			obj[key] = substituteValue(key, v, vars, &errs)
		}
	}
	return errors.Join(errs...)
}

// wholeReference matches a value that is one variable reference, with or
// without a default or a required message: $VAR, ${VAR}, ${VAR:-x},
// ${VAR-x}, ${VAR:?message}.
var wholeReference = regexp.MustCompile(`^\$\{?([A-Za-z_][A-Za-z0-9_]*)(?:(?::?[-?])[^}]*)?\}?$`)

// secretEnv turns an env entry whose value is a Secret-sourced variable into
// a valueFrom reference.
func secretEnv(e map[string]any, vars *Variables) error {
	value, ok := e["value"].(string)
	if !ok {
		return nil
	}
	m := wholeReference.FindStringSubmatch(value)
	if m == nil {
		return nil
	}
	ref, ok := vars.Secret(m[1])
	if !ok {
		return nil
	}
	if ref.Key == "" {
		return fmt.Errorf("variable %s comes from a .env file in Secret %s: only a key/value Secret can feed an env value (valueFrom)", m[1], ref.Secret)
	}
	delete(e, "value")
	e["valueFrom"] = map[string]any{"secretKeyRef": map[string]any{"name": ref.Secret, "key": ref.Key}}
	return nil
}

func substituteValue(path string, v any, vars *Variables, errs *[]error) any {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			t[k] = substituteValue(path+"."+k, t[k], vars, errs)
		}
		return t
	case []any:
		for i := range t {
			t[i] = substituteValue(fmt.Sprintf("%s[%d]", path, i), t[i], vars, errs)
		}
		return t
	case string:
		if !strings.Contains(t, "$") {
			return t
		}
		out, err := substituteString(t, vars)
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%s: %w", path, err))
		}
		return out
	default:
		return v
	}
}

// substituteString resolves one string.
func substituteString(s string, vars *Variables) (string, error) {
	var unset, secret []string
	var missed string
	mapping := func(name string) (string, bool) {
		value, ok := vars.Lookup(name)
		if !ok {
			missed = name
			return "", false
		}
		if _, isSecret := vars.Secret(name); isSecret {
			secret = append(secret, name)
			return "", true
		}
		return value, true
	}
	replace := func(sub string, m template.Mapping, cfg *template.Config) (string, error) {
		missed = ""
		value, applied, err := template.DefaultReplacementAppliedFunc(sub, m, cfg)
		if err == nil && !applied && missed != "" {
			unset = append(unset, missed)
		}
		return value, err
	}
	out, err := template.SubstituteWithOptions(s, mapping, template.WithReplacementFunction(replace), template.WithoutLogging)
	switch {
	case err != nil:
		var required *template.MissingRequiredError
		if errors.As(err, &required) {
			return s, fmt.Errorf("variable %s is required: %s", required.Variable, required.Reason)
		}
		return s, err
	case len(secret) > 0:
		return s, fmt.Errorf("variable %s comes from a Secret: it can only be a whole env value (${%s}), which becomes a valueFrom reference", secret[0], secret[0])
	case len(unset) > 0:
		return s, fmt.Errorf("variable %s is not set and has no default (set it in the Environment, or write ${%s:-default})", unset[0], unset[0])
	}
	return out, nil
}

// coerce converts, in place, the strings that substitution left where the
// API wants a number or a boolean (replicas: ${MAPCACHE_REPLICAS:-2}),
// walking the unstructured object along the Go type.
func coerce(v any, path string, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return nil // Quantity, Duration: parsed from strings by themselves
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Anonymous && name == "" {
				if err := coerce(m, path, f.Type); err != nil {
					return err
				}
				continue
			}
			child, ok := m[name]
			if !ok || name == "" {
				continue
			}
			if child == "" && parsedFromString(f.Type) {
				// memory: ${MONGORS_MEMORY_LIMIT:-}, empty: unset, as
				// compose reads an empty value.
				delete(m, name)
				continue
			}
			converted, err := scalar(child, join(path, name), f.Type)
			if err != nil {
				return err
			}
			m[name] = converted
			if err := coerce(converted, join(path, name), f.Type); err != nil {
				return err
			}
		}
	case reflect.Slice:
		items, ok := v.([]any)
		if !ok {
			return nil
		}
		for i := range items {
			p := fmt.Sprintf("%s[%d]", path, i)
			converted, err := scalar(items[i], p, t.Elem())
			if err != nil {
				return err
			}
			items[i] = converted
			if err := coerce(converted, p, t.Elem()); err != nil {
				return err
			}
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		for k, child := range m {
			converted, err := scalar(child, join(path, k), t.Elem())
			if err != nil {
				return err
			}
			m[k] = converted
		}
	}
	return nil
}

// parsedFromString tells whether t (a Quantity, a Duration) decodes itself
// from a string.
func parsedFromString(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct && reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]())
}

// scalar converts one string to the number or boolean kind t wants, and a
// number or boolean to the string it was written as.
func scalar(v any, path string, t reflect.Type) (any, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	s, isString := v.(string)
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if isString {
			n, err := strconv.ParseInt(strings.TrimSpace(s), 0, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not an integer", path, s)
			}
			return n, nil
		}
	case reflect.Bool:
		if isString {
			b, err := strconv.ParseBool(strings.TrimSpace(s))
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not a boolean", path, s)
			}
			return b, nil
		}
	case reflect.String:
		switch n := v.(type) {
		case int64, int, float64, bool:
			return fmt.Sprint(n), nil
		}
	}
	return v, nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
