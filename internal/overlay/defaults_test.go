package overlay

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/utils/ptr"

	"github.com/kargo-io/kargo/api/v1alpha1"
)

func TestApplyDefaultsPlacement(t *testing.T) {
	defaults := &v1alpha1.ServiceDefaults{Placement: &v1alpha1.Placement{
		Constraints: []string{"node.labels.zone==a", "node.role==worker"},
		Preferences: []v1alpha1.PlacementPreference{{Spread: "node.labels.rack"}},
	}}
	for _, tc := range []struct {
		name string
		own  *v1alpha1.Placement
		want *v1alpha1.Placement
	}{
		{"none: the defaults", nil, defaults.Placement},
		{
			"own constraints: the defaults appended",
			&v1alpha1.Placement{Constraints: []string{"node.labels.mongodb==true"}},
			&v1alpha1.Placement{Constraints: []string{"node.labels.mongodb==true", "node.labels.zone==a", "node.role==worker"}},
		},
		{
			"a constraint of both: once",
			&v1alpha1.Placement{Constraints: []string{"node.role==worker"}, MaxReplicasPerNode: ptr.To[int64](1)},
			&v1alpha1.Placement{Constraints: []string{"node.role==worker", "node.labels.zone==a"}, MaxReplicasPerNode: ptr.To[int64](1)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := &v1alpha1.ServiceSpec{Placement: tc.own.DeepCopy()}
			ApplyDefaults(spec, defaults)
			ApplyDefaults(spec, defaults) // applied at render and again before conversion
			if !equality.Semantic.DeepEqual(spec.Placement, tc.want) {
				t.Errorf("placement = %+v; want %+v", spec.Placement, tc.want)
			}
		})
	}
}
