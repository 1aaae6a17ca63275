package overlay

import (
	"slices"

	"github.com/kargo-io/kargo/api/v1alpha1"
)

// ApplyDefaults fills what a Service leaves unset from the Environment's
// defaults, the lowest layer: placement, resources, logging, update config
// and restart policy when absent, labels and container labels key by key;
// the default placement constraints are appended to a Service's own, as the
// old tool appended <SVC>_CONSTRAINTS. It serves rendered and hand-written
// Services alike, and applying it twice changes nothing more.
func ApplyDefaults(spec *v1alpha1.ServiceSpec, d *v1alpha1.ServiceDefaults) {
	if d == nil {
		return
	}
	d = d.DeepCopy()
	switch {
	case spec.Placement == nil:
		spec.Placement = d.Placement
	case d.Placement != nil:
		for _, c := range d.Placement.Constraints {
			if !slices.Contains(spec.Placement.Constraints, c) {
				spec.Placement.Constraints = append(spec.Placement.Constraints, c)
			}
		}
	}
	if spec.Resources == nil {
		spec.Resources = d.Resources
	}
	if spec.Logging == nil {
		spec.Logging = d.Logging
	}
	if spec.UpdateConfig == nil {
		spec.UpdateConfig = d.UpdateConfig
	}
	if spec.RestartPolicy == nil {
		spec.RestartPolicy = d.RestartPolicy
	}
	spec.Labels = underlay(spec.Labels, d.Labels)
	spec.ContainerLabels = underlay(spec.ContainerLabels, d.ContainerLabels)
}

// underlay adds the entries of low that high lacks.
func underlay(high, low map[string]string) map[string]string {
	if len(low) == 0 {
		return high
	}
	if high == nil {
		high = map[string]string{}
	}
	for k, v := range low {
		if _, ok := high[k]; !ok {
			high[k] = v
		}
	}
	return high
}
