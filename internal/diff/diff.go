// Package diff compares two objects in their generic JSON form (maps,
// lists, scalars) field by field, as kargo diff prints them: one line per
// leaf that differs, named by its path, lists of named things matched by
// name, secret fields redacted.
package diff

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Keyed is a map whose keys print as [key] in paths, as an element of a
// list of named things does (e.g. the KEY=VALUE list of a Swarm spec's Env
// turned into a map by the caller).
type Keyed map[string]any

// Field is one difference between the live and the merged object.
type Field struct {
	// Path names the field: a.b[name].c, or a.b[2] for a list element
	// matched by position.
	Path string
	// Live and Merged are the values; a side without the field is absent.
	Live, Merged     any
	InLive, InMerged bool
}

// listKeys are the fields, tried in order, that name the elements of a list
// of objects (Kubernetes "name", ports and mounts "target", Swarm "Target").
var listKeys = []string{"name", "Name", "target", "Target"}

// Compare lists the leaves where live and merged differ, sorted by path.
// A map or list present on one side only is listed leaf by leaf.
func Compare(live, merged any) []Field {
	var out []Field
	walk("", live, merged, true, true, &out)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func walk(path string, a, b any, inA, inB bool, out *[]Field) {
	a, b = keyed(a, b), keyed(b, a) // both from the original values
	if inA && inB && equal(a, b) {
		return
	}
	am, aMap := children(a, inA)
	bm, bMap := children(b, inB)
	if (aMap || !inA) && (bMap || !inB) && (aMap || bMap) {
		_, aKeyed := a.(Keyed)
		_, bKeyed := b.(Keyed)
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for k := range keys {
			av, ina := am[k]
			bv, inb := bm[k]
			walk(child(path, k, aKeyed || bKeyed), av, bv, ina, inb, out)
		}
		return
	}
	if al, ok := a.([]any); ok && inA {
		if bl, ok := b.([]any); ok && inB {
			for i := 0; i < max(len(al), len(bl)); i++ {
				var av, bv any
				if i < len(al) {
					av = al[i]
				}
				if i < len(bl) {
					bv = bl[i]
				}
				walk(fmt.Sprintf("%s[%d]", path, i), av, bv, i < len(al), i < len(bl), out)
			}
			return
		}
	}
	*out = append(*out, Field{Path: path, Live: a, Merged: b, InLive: inA, InMerged: inB})
}

// children returns the fields of a map (or Keyed); ok is false for a
// leaf. An empty map and an absent one do not differ.
func children(v any, present bool) (map[string]any, bool) {
	if !present {
		return nil, false
	}
	switch t := v.(type) {
	case map[string]any:
		return t, true
	case Keyed:
		return t, true
	}
	return nil, false
}

// keyed turns a list of objects all named by one of listKeys (with
// distinct names, the other side's list too) into a Keyed map, so that
// elements are matched by name rather than position.
func keyed(v, other any) any {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return v
	}
	otherList, _ := other.([]any)
	for _, key := range listKeys {
		m, ok := byKey(list, key)
		if !ok {
			continue
		}
		if len(otherList) > 0 {
			if _, ok := byKey(otherList, key); !ok {
				continue
			}
		}
		return m
	}
	return v
}

func byKey(list []any, key string) (Keyed, bool) {
	m := Keyed{}
	for _, e := range list {
		obj, ok := e.(map[string]any)
		if !ok {
			return nil, false
		}
		var name string
		switch n := obj[key].(type) {
		case string:
			name = n
		case float64, int64, int, json.Number:
			name = fmt.Sprint(n)
		default:
			return nil, false
		}
		if _, dup := m[name]; dup || name == "" {
			return nil, false
		}
		m[name] = obj
	}
	return m, true
}

func child(path, key string, bracket bool) string {
	switch {
	case bracket:
		return path + "[" + key + "]"
	case strings.ContainsAny(key, "./[] "):
		return path + "[" + strconv.Quote(key) + "]"
	case path == "":
		return key
	default:
		return path + "." + key
	}
}

func equal(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// Redactor tells whether the value at a path is secret.
type Redactor func(path string) bool

// Under redacts the fields at or under any of the paths.
func Under(paths ...string) Redactor {
	return func(p string) bool {
		for _, prefix := range paths {
			if p == prefix || strings.HasPrefix(p, prefix+".") || strings.HasPrefix(p, prefix+"[") {
				return true
			}
		}
		return false
	}
}

// Redacted is what a secret value prints as.
const Redacted = "<redacted>"

// Format prints a field as "path: live → merged"; a side without the field
// prints (none), a secret value <redacted> (redact may be nil).
func (f Field) Format(redact Redactor) string {
	secret := redact != nil && redact(f.Path)
	return fmt.Sprintf("%s: %s → %s", f.Path, value(f.Live, f.InLive, secret), value(f.Merged, f.InMerged, secret))
}

func value(v any, present, secret bool) string {
	switch {
	case !present:
		return "(none)"
	case secret:
		return Redacted
	}
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}
