package overlay

import (
	"fmt"
	"strconv"
	"strings"
)

// A catalog Service annotated with MembersAnnotation is a template of
// several Services, the members of a group (a MongoDB replica set): the
// render makes one Service per member, member i (from 0) substituted with
// the variable MemberIndexVariable set to i. The annotation holds the number
// of members, usually a variable with a default ("${MONGORS_MEMBERS:-3}");
// MemberNameAnnotation, the name of a member (substituted the same way;
// default: the template's name followed by the index). The Stack's patches
// apply to the template, so to every member; its images and replicas to the
// members. Both annotations are removed from the members.
const (
	MembersAnnotation    = "swarm.kargo.io/members"
	MemberNameAnnotation = "swarm.kargo.io/member-name"
	MemberIndexVariable  = "MEMBER_INDEX"
	// MaxMembers bounds the number of members (a MongoDB replica set has
	// at most 7 voting members).
	MaxMembers = 7
)

// member is one Service to substitute, with the variables to substitute
// it with.
type member struct {
	obj  map[string]any
	vars *Variables
}

// expandMembers returns the Services a catalog Service renders to: itself,
// or its members when it is a template.
func expandMembers(obj map[string]any, vars *Variables) ([]member, error) {
	meta, _ := obj["metadata"].(map[string]any)
	annotations, _ := meta["annotations"].(map[string]any)
	count, isTemplate := annotations[MembersAnnotation].(string)
	if !isTemplate {
		return []member{{obj: obj, vars: vars}}, nil
	}
	nameTemplate, ok := annotations[MemberNameAnnotation].(string)
	if !ok {
		nameTemplate = unstructuredString(obj, "metadata", "name") + "${" + MemberIndexVariable + "}"
	}
	delete(annotations, MembersAnnotation)
	delete(annotations, MemberNameAnnotation)
	if len(annotations) == 0 {
		delete(meta, "annotations")
	}

	field := "metadata.annotations[" + MembersAnnotation + "]"
	value, err := substituteString(count, vars)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(value))
	if err != nil || n < 1 || n > MaxMembers {
		what := field
		if m := wholeReference.FindStringSubmatch(count); m != nil {
			what = "variable " + m[1]
		}
		return nil, fmt.Errorf("%s: %q is not a number of members from 1 to %d", what, value, MaxMembers)
	}

	out := make([]member, 0, n)
	for i := 0; i < n; i++ {
		mv := vars.with(MemberIndexVariable, strconv.Itoa(i))
		name, err := substituteString(nameTemplate, mv)
		if err != nil {
			return nil, fmt.Errorf("metadata.annotations[%s]: %w", MemberNameAnnotation, err)
		}
		m := deepCopy(obj).(map[string]any)
		m["metadata"].(map[string]any)["name"] = name
		out = append(out, member{obj: m, vars: mv})
	}
	return out, nil
}

// deepCopy copies an unstructured value.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, child := range t {
			m[k] = deepCopy(child)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, child := range t {
			s[i] = deepCopy(child)
		}
		return s
	default:
		return v
	}
}
