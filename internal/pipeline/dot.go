package pipeline

import (
	"fmt"
	"io"
	"strings"

	"github.com/kargo-io/kargo/internal/table"
)

// Fill colours of Stage nodes by health.
var healthColors = map[string]string{
	"Healthy":   "#d4edda",
	"Unhealthy": "#f8d7da",
}

// WriteDOT writes the graph in Graphviz's DOT language, left to right:
// Warehouses as cylinders, Stages as boxes labelled with their Freight,
// health and last promotion and filled by health, upstream Stages that do
// not exist dashed; with several Warehouses, edges between Stages name
// those whose Freight flows along them. Render it with dot -Tsvg.
func (g *Graph) WriteDOT(w io.Writer) error {
	var b strings.Builder
	b.WriteString("digraph pipeline {\n")
	b.WriteString("\trankdir=LR;\n")
	b.WriteString("\tnode [shape=box, style=\"rounded,filled\", fillcolor=\"#eeeeee\", fontname=\"Helvetica\"];\n")
	b.WriteString("\tedge [fontname=\"Helvetica\", fontsize=10];\n")
	for _, name := range g.Warehouses {
		fmt.Fprintf(&b, "\t%s [label=%s, shape=cylinder, fillcolor=\"#dbe8f7\"];\n", id(Ref{Warehouse, name}), quote("Warehouse\n"+name))
	}
	for i := range g.Stages {
		s := &g.Stages[i]
		if s.Missing {
			fmt.Fprintf(&b, "\t%s [label=%s, style=\"rounded,dashed\"];\n", id(Ref{StageKind, s.Name}), quote(s.Name+"\n(not found)"))
			continue
		}
		lines := []string{s.Name, "freight: " + table.OrDash(s.Freight), "health: " + table.OrDash(s.Health), "last promotion: " + table.OrDash(string(s.LastPromotion))}
		if s.Auto {
			lines = append(lines, "auto-promotion")
		}
		fill := healthColors[s.Health]
		if fill == "" {
			fill = "#eeeeee"
		}
		fmt.Fprintf(&b, "\t%s [label=%s, fillcolor=%s];\n", id(Ref{StageKind, s.Name}), quote(strings.Join(lines, "\n")), quote(fill))
	}
	for i := range g.Stages {
		s := &g.Stages[i]
		for _, e := range s.Upstream {
			fmt.Fprintf(&b, "\t%s -> %s", id(e.From), id(Ref{StageKind, s.Name}))
			if e.From.Kind == StageKind && len(g.Origins) > 1 {
				fmt.Fprintf(&b, " [label=%s]", quote(strings.Join(e.Origins, ", ")))
			}
			b.WriteString(";\n")
		}
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// id is a node's DOT identifier: a Warehouse and a Stage may share a name.
func id(r Ref) string {
	return quote(strings.ToLower(string(r.Kind)) + "/" + r.Name)
}

// quote writes s as a DOT string: double quotes and backslashes escaped,
// new lines as \n (centred lines in a label).
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
