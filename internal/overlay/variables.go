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
	// builtin marks a source Kargo adds itself (DOCKER_HOST from the
	// endpoint): not set by the user, never reported unused.
	builtin bool
}

// Variables are the resolved variables of an Environment.
type Variables struct {
	values map[string]string
	// secretKeys maps a Secret-sourced variable to its Secret and key; the
	// key is empty when the variable came from a .env file in a Secret.
	secretKeys map[string]SecretKey
	// user holds the variables set by a source of the user (not builtin).
	user map[string]bool
	// refs lists, for a variable set by a .env line, the variables its
	// line referenced: what its value depends on.
	refs map[string][]string
	// read, when not nil, records every name looked up (see recorder).
	read map[string]bool
}

// SecretKey locates a Secret-sourced variable.
type SecretKey struct{ Secret, Key string }

// NewVariables resolves sources in order.
func NewVariables(sources ...Source) (*Variables, error) {
	v := &Variables{values: map[string]string{}, secretKeys: map[string]SecretKey{}, user: map[string]bool{}, refs: map[string][]string{}}
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
			parsed, refs, err := loadDotenv(*src.Dotenv, lookup)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", src.Origin, dotenvError(err, src.SecretName != ""))
			}
			if len(copied) > 0 {
				return nil, fmt.Errorf("%s: reads variable %s, which comes from Secret %s: a plain .env cannot copy a Secret value", src.Origin, copied[0], v.secretKeys[copied[0]].Secret)
			}
			values = parsed
			maps.Copy(v.refs, refs)
		}
		for _, name := range slices.Sorted(maps.Keys(values)) {
			v.values[name] = values[name]
			v.user[name] = v.user[name] || !src.builtin
			if src.Dotenv == nil {
				delete(v.refs, name) // a plain value depends on nothing
			}
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
	if v.read != nil {
		v.read[name] = true
	}
	value, ok := v.values[name]
	return value, ok
}

// Secret tells whether a variable came from a Secret, and where.
func (v *Variables) Secret(name string) (SecretKey, bool) {
	if v.read != nil {
		v.read[name] = true
	}
	k, ok := v.secretKeys[name]
	return k, ok
}

// recorder returns the same variables, recording the names looked up
// through it: what a render read. v itself records nothing.
func (v *Variables) recorder() *Variables {
	var rec Variables
	if v != nil {
		rec = *v
	}
	rec.read = map[string]bool{}
	return &rec
}

// with returns the same variables with one more set (over any of that
// name), recording into the same set of reads: a layer of the render's
// own, never reported unused.
func (v *Variables) with(name, value string) *Variables {
	w := *v
	w.values = maps.Clone(v.values)
	w.values[name] = value
	w.secretKeys = maps.Clone(v.secretKeys)
	delete(w.secretKeys, name)
	w.user = maps.Clone(v.user)
	delete(w.user, name)
	return &w
}

// reads lists the names looked up through a recorder, sorted.
func (v *Variables) reads() []string {
	return slices.Sorted(maps.Keys(v.read))
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
