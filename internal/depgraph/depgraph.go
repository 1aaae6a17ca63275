// Package depgraph checks dependsOn graphs (Stacks on Stacks, Services on
// Services of a Stack) for cycles and orders them.
package depgraph

import "sort"

// Cycle returns a dependency cycle reachable from start, as the path
// start -> ... -> start (e.g. [a b a]), or nil when there is none. edges
// maps a node to the nodes it depends on; unknown nodes have no edges.
func Cycle(edges map[string][]string, start string) []string {
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var path []string
	var visit func(n string) []string
	visit = func(n string) []string {
		switch state[n] {
		case visiting:
			// Cut the path to the cycle itself.
			for i, p := range path {
				if p == n {
					return append(append([]string{}, path[i:]...), n)
				}
			}
		case done:
			return nil
		}
		state[n] = visiting
		path = append(path, n)
		deps := append([]string{}, edges[n]...)
		sort.Strings(deps)
		for _, d := range deps {
			if c := visit(d); c != nil {
				return c
			}
		}
		path = path[:len(path)-1]
		state[n] = done
		return nil
	}
	return visit(start)
}

// Order returns the nodes so that each comes after its dependencies, ties
// broken by name, and the first cycle found (nil when there is none; the
// nodes of a cycle are then ordered by name).
func Order(edges map[string][]string) (order []string, cycle []string) {
	names := make([]string, 0, len(edges))
	for n := range edges {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if cycle = Cycle(edges, n); cycle != nil {
			return names, cycle
		}
	}
	placed := map[string]bool{}
	var place func(n string)
	place = func(n string) {
		if placed[n] {
			return
		}
		placed[n] = true
		deps := append([]string{}, edges[n]...)
		sort.Strings(deps)
		for _, d := range deps {
			if _, known := edges[d]; known {
				place(d)
			}
		}
		order = append(order, n)
	}
	for _, n := range names {
		place(n)
	}
	return order, nil
}

// Levels groups the nodes of an acyclic graph by the length of their
// longest chain of dependencies: level 0 depends on no known node, level k
// only on nodes of lower levels; each level sorted by name. The nodes of a
// level do not depend on each other, so they can be worked on at once once
// the levels before are done. A graph with a cycle has no levels (nil).
func Levels(edges map[string][]string) [][]string {
	order, cycle := Order(edges)
	if cycle != nil {
		return nil
	}
	depth := map[string]int{}
	var levels [][]string
	for _, n := range order {
		d := 0
		for _, dep := range edges[n] {
			if _, known := edges[dep]; known {
				d = max(d, depth[dep]+1)
			}
		}
		depth[n] = d
		for len(levels) <= d {
			levels = append(levels, nil)
		}
		levels[d] = append(levels[d], n)
	}
	for _, l := range levels {
		sort.Strings(l)
	}
	return levels
}
