package overlay

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// machinery are the variables of the old tool's .env.default (its "Kargo
// main configuration" block) that its own scripts read, not its services:
// the Docker endpoint (DOCKER_HOST, which Kargo takes from spec.endpoint,
// and DOCKER_HOST_IP and DOCKER_HOST_PORT derived from it) and the names of
// the shared networks, which in Kargo are the Stacks' networks[].swarmName.
// They are never reported unused, nor what their values read.
var machinery = []string{
	"DOCKER_HOST", "DOCKER_HOST_IP", "DOCKER_HOST_PORT",
	"DOCKER_FRONT_NETWORK", "DOCKER_BACK_NETWORK", "DOCKER_SOCKET_NETWORK",
}

// Unused returns, sorted, the variables the user set (spec.variables,
// spec.variablesFrom, kargo render --env-file) that nothing uses, read
// being the names the renders of every Stack of the Environment looked up
// (Output.Read, merged). A variable is used when:
//   - a render read it (an entry, or a patch of the Stack: substitution
//     happens after the patches);
//   - it is one of the old tool's machinery variables (see machinery),
//     STACKS, or <NAME>_STACK for a NAME listed in STACKS (the workspace's
//     stack lists, which kargo convert workspace reads; a <NAME>_STACK of no
//     listed stack is reported);
//   - the value of a used variable references it (SUBDOMAIN=kargo.$DOMAIN:
//     DOMAIN is used as long as SUBDOMAIN is).
//
// Only names are returned: values may be secrets.
func (v *Variables) Unused(read []string) []string {
	used := map[string]bool{}
	var use func(name string)
	use = func(name string) {
		if used[name] {
			return
		}
		used[name] = true
		for _, ref := range v.refs[name] {
			use(ref)
		}
	}
	for _, name := range read {
		use(name)
	}
	for _, name := range machinery {
		use(name)
	}
	use("STACKS")
	if stacks, ok := v.values["STACKS"]; ok {
		for _, s := range strings.Fields(stacks) {
			use(strings.ToUpper(strings.ReplaceAll(s, "-", "_")) + "_STACK")
		}
	}
	var out []string
	for _, name := range slices.Sorted(maps.Keys(v.user)) {
		if !used[name] {
			out = append(out, name)
		}
	}
	return out
}

// UnusedMessage says which variables are unused in one line of at most
// limit bytes (the names that fit, then how many more), for a warning or an
// event.
func UnusedMessage(names []string, limit int) string {
	head := fmt.Sprintf("%d variable(s) set but read by no catalog entry or patch of its Stacks: ", len(names))
	var b strings.Builder
	b.WriteString(head)
	for i, name := range names {
		sep := ""
		if i > 0 {
			sep = ", "
		}
		// Room for this name and, should the next not fit, the
		// "and N more" after it.
		need := len(sep) + len(name)
		if rest := len(names) - i - 1; rest > 0 {
			need += len(fmt.Sprintf(" and %d more", rest+1))
		}
		if i > 0 && b.Len()+need > limit {
			fmt.Fprintf(&b, " and %d more", len(names)-i)
			break
		}
		b.WriteString(sep + name)
	}
	return b.String()
}
