package overlay

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// Source is one layer of variables of an Environment, in the order they are
// read: spec.variables first, then each spec.variablesFrom entry; a later
// source wins, as the old tool's .env over .env.default.
type Source struct {
	// Origin names the source in errors: "spec.variables",
	// "ConfigMap kargo-dotenv key .env".
	Origin string
	// Values are key/value variables (spec.variables, or a ConfigMap or
	// Secret read key by key).
	Values map[string]string
	// Dotenv is a whole environment file in the old tool's shell-like
	// syntax: comments, quotes, $VAR and ${VAR} references to variables
	// defined before (in this file or an earlier source), and the bash
	// forms the old files use, ${VAR:offset:length}, ${#VAR}, $((...)) and
	// `expr length $VAR` (see dotenv_shell.go). A reference to a variable
	// neither set nor defaulted is an error.
	Dotenv *string
	// SecretName is set when the values come from a Secret: they are never
	// printed, and may only reach a Service as a whole env value, which then
	// becomes a valueFrom reference to the Secret key (key/value Secrets).
	SecretName string
}

// Variables are the resolved variables of an Environment.
type Variables struct {
	values map[string]string
	// secretKeys maps a Secret-sourced variable to its Secret and key; the
	// key is empty when the variable came from a .env file in a Secret.
	secretKeys map[string]SecretKey
}

// SecretKey locates a Secret-sourced variable.
type SecretKey struct{ Secret, Key string }

// NewVariables resolves sources in order.
func NewVariables(sources ...Source) (*Variables, error) {
	v := &Variables{values: map[string]string{}, secretKeys: map[string]SecretKey{}}
	for _, src := range sources {
		values := src.Values
		if src.Dotenv != nil {
			// A plain .env must not copy a Secret value into a plain
			// variable ($VAR, ${VAR}, or a bare VAR line inheriting it).
			var copied []string
			lookup := func(name string) (string, bool) {
				if _, secret := v.secretKeys[name]; secret && src.SecretName == "" {
					copied = append(copied, name)
				}
				return v.Lookup(name)
			}
			parsed, err := loadDotenv(*src.Dotenv, lookup)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", src.Origin, dotenvError(err, src.SecretName != ""))
			}
			if len(copied) > 0 {
				return nil, fmt.Errorf("%s: reads variable %s, which comes from Secret %s: a plain .env cannot copy a Secret value", src.Origin, copied[0], v.secretKeys[copied[0]].Secret)
			}
			values = parsed
		}
		for _, name := range slices.Sorted(maps.Keys(values)) {
			v.values[name] = values[name]
			delete(v.secretKeys, name)
			if src.SecretName != "" {
				key := name
				if src.Dotenv != nil {
					key = ""
				}
				v.secretKeys[name] = SecretKey{Secret: src.SecretName, Key: key}
			}
		}
	}
	return v, nil
}

// Lookup returns a variable's value.
func (v *Variables) Lookup(name string) (string, bool) {
	value, ok := v.values[name]
	return value, ok
}

// Secret tells whether a variable came from a Secret, and where.
func (v *Variables) Secret(name string) (SecretKey, bool) {
	k, ok := v.secretKeys[name]
	return k, ok
}

// dotenvError keeps the line of an error but, for a Secret, drops whatever
// quotes the file: the parser quotes the offending text, which may be a
// secret value.
func dotenvError(err error, secret bool) error {
	var le *lineError
	switch {
	case !secret:
		return err
	case !errors.As(err, &le):
		return errors.New("malformed (content not shown: it comes from a Secret)")
	case le.public == le.msg:
		return err
	}
	return fmt.Errorf("line %d: %s (content not shown: it comes from a Secret)", le.line, le.public)
}
