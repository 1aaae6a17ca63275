package overlay

import "strings"

// splitConstraints expands, in place, the placement constraints of a
// substituted Service the way the old tool read its <SVC>_CONSTRAINTS
// variables: one item may hold several space-separated constraints
// ("node.role==worker node.labels.thredds==true"), an empty item (an unset
// variable defaulting to "") holds none, and a constraint already listed is
// not repeated. Entries write `- ${MAPCACHE_CONSTRAINTS:-node.labels.mapcache==true}`
// next to the constraints of the old compose file.
func splitConstraints(obj map[string]any) {
	spec, _ := obj["spec"].(map[string]any)
	placement, _ := spec["placement"].(map[string]any)
	items, ok := placement["constraints"].([]any)
	if !ok {
		return
	}
	out := []any{}
	seen := map[string]bool{}
	for _, item := range items {
		s, ok := item.(string)
		if !ok {
			out = append(out, item)
			continue
		}
		for _, c := range SplitConstraints(s) {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	placement["constraints"] = out
}

// SplitConstraints splits a space-separated list of Swarm constraints.
// Spaces around an operator belong to the constraint ("node.role == worker"
// is one constraint, written node.role==worker).
func SplitConstraints(s string) []string {
	var out []string
	for _, f := range strings.Fields(s) {
		if len(out) > 0 && (startsWithOperator(f) || endsWithOperator(out[len(out)-1])) {
			out[len(out)-1] += f
			continue
		}
		out = append(out, f)
	}
	return out
}

func startsWithOperator(c string) bool {
	return strings.HasPrefix(c, "==") || strings.HasPrefix(c, "!=")
}

func endsWithOperator(c string) bool {
	return strings.HasSuffix(c, "==") || strings.HasSuffix(c, "!=")
}
