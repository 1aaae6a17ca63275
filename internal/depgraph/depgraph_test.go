package depgraph

import (
	"reflect"
	"testing"
)

func TestCycle(t *testing.T) {
	tests := []struct {
		name  string
		edges map[string][]string
		start string
		want  []string
	}{
		{"no edges", map[string][]string{"a": nil}, "a", nil},
		{"chain", map[string][]string{"a": {"b"}, "b": {"c"}}, "a", nil},
		{"diamond", map[string][]string{"a": {"b", "c"}, "b": {"d"}, "c": {"d"}}, "a", nil},
		{"self", map[string][]string{"a": {"a"}}, "a", []string{"a", "a"}},
		{"two", map[string][]string{"a": {"b"}, "b": {"a"}}, "a", []string{"a", "b", "a"}},
		{"cycle further down", map[string][]string{"x": {"a"}, "a": {"b"}, "b": {"c"}, "c": {"a"}}, "x", []string{"a", "b", "c", "a"}},
		{"unknown dependency", map[string][]string{"a": {"missing"}}, "a", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Cycle(tt.edges, tt.start); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Cycle() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOrder(t *testing.T) {
	tests := []struct {
		name      string
		edges     map[string][]string
		want      []string
		wantCycle []string
	}{
		{"independent by name", map[string][]string{"web": nil, "db": nil}, []string{"db", "web"}, nil},
		{"dependencies first", map[string][]string{"api": {"db", "cache"}, "db": nil, "cache": {"db"}, "web": {"api"}}, []string{"db", "cache", "api", "web"}, nil},
		{"unknown dependencies ignored", map[string][]string{"a": {"zz"}}, []string{"a"}, nil},
		{"cycle", map[string][]string{"a": {"b"}, "b": {"a"}, "c": nil}, []string{"a", "b", "c"}, []string{"a", "b", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, cycle := Order(tt.edges)
			if !reflect.DeepEqual(got, tt.want) || !reflect.DeepEqual(cycle, tt.wantCycle) {
				t.Errorf("Order() = %v, %v; want %v, %v", got, cycle, tt.want, tt.wantCycle)
			}
		})
	}
}

func TestLevels(t *testing.T) {
	tests := []struct {
		name  string
		edges map[string][]string
		want  [][]string
	}{
		{"empty", map[string][]string{}, nil},
		{"independent by name", map[string][]string{"web": nil, "db": nil, "api": nil}, [][]string{{"api", "db", "web"}}},
		{"chain", map[string][]string{"a": {"b"}, "b": {"c"}, "c": nil}, [][]string{{"c"}, {"b"}, {"a"}}},
		{"longest chain decides", map[string][]string{"web": {"api", "db"}, "api": {"db"}, "db": nil, "cache": nil}, [][]string{{"cache", "db"}, {"api"}, {"web"}}},
		{"diamond", map[string][]string{"a": {"b", "c"}, "b": {"d"}, "c": {"d"}, "d": nil}, [][]string{{"d"}, {"b", "c"}, {"a"}}},
		{"unknown dependency", map[string][]string{"a": {"missing"}}, [][]string{{"a"}}},
		{"cycle", map[string][]string{"a": {"b"}, "b": {"a"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Levels(tt.edges); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Levels() = %v, want %v", got, tt.want)
			}
		})
	}
}
