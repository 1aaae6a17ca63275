package swarm

import (
	"reflect"
	"testing"

	"github.com/docker/docker/api/types/swarm"
)

func TestNodeLabels(t *testing.T) {
	const rec = ManagedNodeLabelsPrefix + "geo.local"
	tests := []struct {
		name             string
		current, desired map[string]string
		want             map[string]string
		conflicts        map[string]string
	}{
		{"add to empty", nil, map[string]string{"zone": "a"},
			map[string]string{"zone": "a", rec: "zone"}, nil},
		{"foreign labels kept", map[string]string{"team": "maps"}, map[string]string{"zone": "a", "db": "true"},
			map[string]string{"team": "maps", "zone": "a", "db": "true", rec: "db,zone"}, nil},
		{"update value", map[string]string{"zone": "a", rec: "zone"}, map[string]string{"zone": "b"},
			map[string]string{"zone": "b", rec: "zone"}, nil},
		{"remove only what Kargo set", map[string]string{"team": "maps", "zone": "a", "db": "true", rec: "db,zone"}, map[string]string{"zone": "a"},
			map[string]string{"team": "maps", "zone": "a", rec: "zone"}, nil},
		{"nothing wanted any more", map[string]string{"team": "maps", "zone": "a", rec: "zone"}, nil,
			map[string]string{"team": "maps"}, nil},
		{"foreign label of the same key is taken over", map[string]string{"zone": "x"}, map[string]string{"zone": "a"},
			map[string]string{"zone": "a", rec: "zone"}, nil},
		{"untouched node", map[string]string{"team": "maps"}, nil, map[string]string{"team": "maps"}, nil},
		{"labels of another Environment kept", map[string]string{"zone": "a", ManagedNodeLabelsPrefix + "other.env": "zone"}, nil,
			map[string]string{"zone": "a", ManagedNodeLabelsPrefix + "other.env": "zone"}, nil},
		{"another Environment's label is not overwritten", map[string]string{"zone": "a", ManagedNodeLabelsPrefix + "other.env": "zone"}, map[string]string{"zone": "b", "db": "true"},
			map[string]string{"zone": "a", "db": "true", ManagedNodeLabelsPrefix + "other.env": "zone", rec: "db"}, map[string]string{"zone": "other.env"}},
		{"the same value wanted by two Environments is shared", map[string]string{"zone": "a", ManagedNodeLabelsPrefix + "other.env": "zone"}, map[string]string{"zone": "a"},
			map[string]string{"zone": "a", ManagedNodeLabelsPrefix + "other.env": "zone", rec: "zone"}, nil},
		{"a shared label stays while the other still wants it", map[string]string{"zone": "a", ManagedNodeLabelsPrefix + "other.env": "zone", rec: "zone"}, nil,
			map[string]string{"zone": "a", ManagedNodeLabelsPrefix + "other.env": "zone"}, nil},
		{"a conflict does not undo the label it already had", map[string]string{"zone": "a", ManagedNodeLabelsPrefix + "other.env": "zone", rec: "zone"}, map[string]string{"zone": "b"},
			map[string]string{"zone": "a", ManagedNodeLabelsPrefix + "other.env": "zone"}, map[string]string{"zone": "other.env"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, conflicts := NodeLabels(tt.current, tt.desired, rec)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("NodeLabels() = %v, want %v", got, tt.want)
			}
			if !reflect.DeepEqual(conflicts, tt.conflicts) {
				t.Errorf("NodeLabels() conflicts = %v, want %v", conflicts, tt.conflicts)
			}
		})
	}
}

func TestUnavailable(t *testing.T) {
	node := func(state swarm.NodeState, availability swarm.NodeAvailability) swarm.Node {
		return swarm.Node{
			Description: swarm.NodeDescription{Hostname: "worker-2"},
			Spec:        swarm.NodeSpec{Availability: availability},
			Status:      swarm.NodeStatus{State: state},
		}
	}
	for _, tc := range []struct {
		node swarm.Node
		want string
	}{
		{node(swarm.NodeStateReady, swarm.NodeAvailabilityActive), ""},
		{node(swarm.NodeStateDown, swarm.NodeAvailabilityActive), "worker-2 (down)"},
		{node(swarm.NodeStateReady, swarm.NodeAvailabilityDrain), "worker-2 (drain)"},
		{node(swarm.NodeStateReady, swarm.NodeAvailabilityPause), "worker-2 (pause)"},
		{node(swarm.NodeStateDisconnected, swarm.NodeAvailabilityDrain), "worker-2 (disconnected, drain)"},
		{node(swarm.NodeStateUnknown, swarm.NodeAvailabilityActive), "worker-2 (unknown)"},
	} {
		if got := Unavailable(tc.node); got != tc.want {
			t.Errorf("Unavailable(%s, %s) = %q, want %q", tc.node.Status.State, tc.node.Spec.Availability, got, tc.want)
		}
	}
}
