package swarm

import (
	"reflect"
	"testing"
)

func TestNodeLabels(t *testing.T) {
	const rec = ManagedNodeLabelsPrefix + "geo.local"
	tests := []struct {
		name             string
		current, desired map[string]string
		want             map[string]string
	}{
		{"add to empty", nil, map[string]string{"zone": "a"},
			map[string]string{"zone": "a", rec: "zone"}},
		{"foreign labels kept", map[string]string{"team": "maps"}, map[string]string{"zone": "a", "db": "true"},
			map[string]string{"team": "maps", "zone": "a", "db": "true", rec: "db,zone"}},
		{"update value", map[string]string{"zone": "a", rec: "zone"}, map[string]string{"zone": "b"},
			map[string]string{"zone": "b", rec: "zone"}},
		{"remove only what Kargo set", map[string]string{"team": "maps", "zone": "a", "db": "true", rec: "db,zone"}, map[string]string{"zone": "a"},
			map[string]string{"team": "maps", "zone": "a", rec: "zone"}},
		{"nothing wanted any more", map[string]string{"team": "maps", "zone": "a", rec: "zone"}, nil,
			map[string]string{"team": "maps"}},
		{"foreign label of the same key is taken over", map[string]string{"zone": "x"}, map[string]string{"zone": "a"},
			map[string]string{"zone": "a", rec: "zone"}},
		{"untouched node", map[string]string{"team": "maps"}, nil, map[string]string{"team": "maps"}},
		{"labels of another Environment kept", map[string]string{"zone": "a", ManagedNodeLabelsPrefix + "other.env": "zone"}, nil,
			map[string]string{"zone": "a", ManagedNodeLabelsPrefix + "other.env": "zone"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NodeLabels(tt.current, tt.desired, rec); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("NodeLabels() = %v, want %v", got, tt.want)
			}
		})
	}
}
