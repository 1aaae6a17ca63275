// Package pipeline builds the promotion pipeline of a namespace from its
// Stages, a graph from the Warehouses through the Stages (upstream →
// downstream, from spec.requestedFreight), and writes it as text or as
// Graphviz DOT, for kargo pipeline. It is pure: the command reads the
// Stages.
package pipeline

import (
	"cmp"
	"slices"

	"github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/promotion"
)

// Kind of a node of the graph.
type Kind string

const (
	// Warehouse is a root: Stages take Freight from it directly.
	Warehouse Kind = "Warehouse"
	// StageKind is a Stage.
	StageKind Kind = "Stage"
)

// Ref names a node.
type Ref struct {
	Kind Kind
	Name string
}

// Graph is a namespace's pipeline.
type Graph struct {
	// Warehouses are those some Stage takes Freight from directly, sorted.
	Warehouses []string
	// Stages by name, those upstream Stages name that do not exist
	// included (Missing).
	Stages []Stage
	// Origins are all the Warehouses Stages request Freight from, sorted;
	// with more than one, edges name the Warehouses whose Freight flows
	// along them.
	Origins []string
}

// Stage is a node of the graph: what a Stage holds and where its Freight
// comes from.
type Stage struct {
	Name string
	// Missing: an upstream of another Stage that does not exist.
	Missing bool
	// Freight is the Freight the Stage holds (alias, else short name), ""
	// when none.
	Freight string
	// Health of the Stage's targets (status.health), "" when not reported.
	Health string
	// LastPromotion is the phase of the last Promotion that finished.
	LastPromotion v1alpha1.PromotionPhase
	// Auto: spec.autoPromotion.
	Auto bool
	// Upstream are the nodes the Stage takes Freight from, Warehouses
	// first, each by name.
	Upstream []Edge
}

// Edge is where a Stage takes Freight from, and the Warehouses whose
// Freight comes that way.
type Edge struct {
	From    Ref
	Origins []string
}

// Build makes the graph of the Stages (of one namespace).
func Build(stages []v1alpha1.Stage) *Graph {
	g := &Graph{}
	exists := map[string]bool{}
	for i := range stages {
		exists[stages[i].Name] = true
	}
	missing := map[string]bool{}
	for i := range stages {
		s := &stages[i]
		node := Stage{Name: s.Name, Health: s.Status.Health, Auto: s.Spec.AutoPromotion}
		if c := s.Status.CurrentFreight; c != nil {
			node.Freight = promotion.FreightName(c.Name, c.Alias)
		}
		if p := s.Status.LastPromotion; p != nil {
			node.LastPromotion = p.Phase
		}
		for _, req := range s.Spec.RequestedFreight {
			origin := req.Origin.Name
			g.Origins = appendNew(g.Origins, origin)
			if req.Sources.Direct {
				g.Warehouses = appendNew(g.Warehouses, origin)
				node.addEdge(Ref{Warehouse, origin}, origin)
			}
			for _, up := range req.Sources.Stages {
				if !exists[up] {
					missing[up] = true
				}
				node.addEdge(Ref{StageKind, up}, origin)
			}
		}
		slices.SortFunc(node.Upstream, func(a, b Edge) int { return compareRefs(a.From, b.From) })
		g.Stages = append(g.Stages, node)
	}
	for name := range missing {
		g.Stages = append(g.Stages, Stage{Name: name, Missing: true})
	}
	slices.Sort(g.Warehouses)
	slices.Sort(g.Origins)
	slices.SortFunc(g.Stages, func(a, b Stage) int { return cmp.Compare(a.Name, b.Name) })
	return g
}

func (s *Stage) addEdge(from Ref, origin string) {
	for i := range s.Upstream {
		if s.Upstream[i].From == from {
			s.Upstream[i].Origins = appendNew(s.Upstream[i].Origins, origin)
			slices.Sort(s.Upstream[i].Origins)
			return
		}
	}
	s.Upstream = append(s.Upstream, Edge{From: from, Origins: []string{origin}})
}

// downstream are the Stages taking Freight from the node, by name.
func (g *Graph) downstream(from Ref) []*Stage {
	var out []*Stage
	for i := range g.Stages {
		if slices.ContainsFunc(g.Stages[i].Upstream, func(e Edge) bool { return e.From == from }) {
			out = append(out, &g.Stages[i])
		}
	}
	return out
}

// edge is the edge from a node into the Stage.
func (s *Stage) edge(from Ref) Edge {
	i := slices.IndexFunc(s.Upstream, func(e Edge) bool { return e.From == from })
	return s.Upstream[i]
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// compareRefs puts Warehouses before Stages, each by name.
func compareRefs(a, b Ref) int {
	if a.Kind != b.Kind {
		if a.Kind == Warehouse {
			return -1
		}
		return 1
	}
	return cmp.Compare(a.Name, b.Name)
}
