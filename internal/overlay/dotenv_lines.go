package overlay

import "strings"

// DotenvAssignment is where one variable is assigned in an environment file.
type DotenvAssignment struct {
	Name string
	// FirstLine and LastLine (1-based) hold the statement: a quoted value
	// may span lines.
	FirstLine, LastLine int
}

// DotenvAssignments lists the assignments of an environment file in the
// old tool's syntax, in order, as loading it delimits them (a name may be
// assigned more than once; the last one wins). Malformed statements are
// left out: loading the file reports them.
func DotenvAssignments(content string) []DotenvAssignment {
	var out []DotenvAssignment
	for _, st := range splitStatements(strings.TrimPrefix(content, "\uFEFF")) {
		if st.raw {
			continue
		}
		name := strings.TrimSpace(st.head)
		name = strings.TrimSpace(strings.TrimPrefix(name, "export "))
		if i := strings.IndexAny(name, "=:"); i >= 0 {
			name = strings.TrimSpace(name[:i])
		}
		if !isName(name) {
			continue
		}
		text := st.head + st.value + st.tail
		out = append(out, DotenvAssignment{Name: name, FirstLine: st.line, LastLine: st.line + strings.Count(text, "\n")})
	}
	return out
}
