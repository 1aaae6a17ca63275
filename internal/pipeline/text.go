package pipeline

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/kargo-io/kargo/internal/table"
)

// WriteText writes the graph as a tree, one row per node, from the
// Warehouses (then the upstream Stages that do not exist, then the Stages
// of a cycle) downstream, with the columns FREIGHT, HEALTH, LAST PROMOTION
// and AUTO. A Stage taking Freight from several nodes is written in full
// under the first and as "(see above)" under the others; with several
// Warehouses, a Stage below another names those whose Freight comes
// along that edge.
func (g *Graph) WriteText(w io.Writer) error {
	tw := table.New(w)
	t := textWriter{g: g, w: tw, written: map[string]bool{}}
	fmt.Fprintln(tw, "STAGE\tFREIGHT\tHEALTH\tLAST PROMOTION\tAUTO")
	for _, name := range g.Warehouses {
		fmt.Fprintf(tw, "Warehouse %s\t\t\t\t\n", name)
		t.children(Ref{Warehouse, name}, "", nil)
	}
	// Stages no Warehouse reaches: below an upstream that does not exist,
	// or in a cycle.
	for _, missing := range []bool{true, false} {
		for i := range g.Stages {
			if s := &g.Stages[i]; s.Missing == missing && !t.written[s.Name] && t.row(s, "", nil) {
				t.children(Ref{StageKind, s.Name}, "", []string{s.Name})
			}
		}
	}
	return tw.Flush()
}

type textWriter struct {
	g       *Graph
	w       io.Writer
	written map[string]bool
}

// children writes the Stages downstream of the node, below it; prefix
// draws the levels above, path are the Stages above (a cycle stops there).
func (t *textWriter) children(from Ref, prefix string, path []string) {
	down := t.g.downstream(from)
	for i, s := range down {
		branch, next := "├─ ", "│  "
		if i == len(down)-1 {
			branch, next = "└─ ", "   "
		}
		label := prefix + branch + s.Name
		if from.Kind == StageKind && len(t.g.Origins) > 1 {
			label += " (" + strings.Join(s.edge(from).Origins, ", ") + ")"
		}
		if t.row(s, label, path) {
			t.children(Ref{StageKind, s.Name}, prefix+next, append(path, s.Name))
		}
	}
}

// row writes the Stage's row, labelled (default: its name), and tells
// whether it was written in full, the first time, so that its downstream
// goes below it.
func (t *textWriter) row(s *Stage, label string, path []string) bool {
	if label == "" {
		label = s.Name
	}
	switch {
	case slices.Contains(path, s.Name):
		fmt.Fprintf(t.w, "%s (cycle)\t\t\t\t\n", label)
		return false
	case t.written[s.Name]:
		fmt.Fprintf(t.w, "%s (see above)\t\t\t\t\n", label)
		return false
	case s.Missing:
		fmt.Fprintf(t.w, "%s (not found)\t\t\t\t\n", label)
	default:
		auto := ""
		if s.Auto {
			auto = "yes"
		}
		fmt.Fprintf(t.w, "%s\t%s\t%s\t%s\t%s\n", label, table.OrDash(s.Freight), table.OrDash(s.Health), table.OrDash(string(s.LastPromotion)), auto)
	}
	t.written[s.Name] = true
	return true
}
