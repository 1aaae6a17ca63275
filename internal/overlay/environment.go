package overlay

import (
	"errors"
	"fmt"

	"github.com/kargo-io/kargo/api/v1alpha1"
)

// ErrNotFound is what a DataGetter returns for a missing ConfigMap or Secret.
var ErrNotFound = errors.New("not found")

// DataGetter reads the data of a ConfigMap (secret false) or Secret (secret
// true) of the Environment's namespace. The controller reads the cluster,
// kargo render reads files.
type DataGetter func(name string, secret bool) (map[string]string, error)

// EnvironmentVariables resolves the variables of an Environment's spec: spec.variables,
// then spec.variablesFrom in order (later sources win). A source marked
// optional may be missing; a missing key is an error either way. extra
// sources come last (kargo render --env-file), so they win over the
// Environment's own.
//
// Below them all, DOCKER_HOST is spec.endpoint.host, the Swarm manager the
// old tool ran against with DOCKER_HOST set: the old .env.default derives
// DOCKER_HOST_IP and DOCKER_HOST_PORT from it. Any source setting
// DOCKER_HOST wins, from its own position on.
func EnvironmentVariables(spec *v1alpha1.EnvironmentSpec, get DataGetter, extra ...Source) (*Variables, error) {
	var sources []Source
	if host := spec.Endpoint.Host; host != "" {
		sources = append(sources, Source{Origin: "spec.endpoint.host", Values: map[string]string{"DOCKER_HOST": host}, builtin: true})
	}
	sources = append(sources, Source{Origin: "spec.variables", Values: spec.Variables})
	for i, from := range spec.VariablesFrom {
		ref, kind, secret := from.ConfigMapRef, "ConfigMap", false
		if from.SecretRef != nil {
			ref, kind, secret = from.SecretRef, "Secret", true
		}
		data, err := get(ref.Name, secret)
		if errors.Is(err, ErrNotFound) && from.Optional {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("spec.variablesFrom[%d]: %s %s: %w", i, kind, ref.Name, err)
		}
		src := Source{Origin: fmt.Sprintf("spec.variablesFrom[%d] (%s %s)", i, kind, ref.Name), Values: data}
		if secret {
			src.SecretName = ref.Name
		}
		if ref.Key != "" {
			content, ok := data[ref.Key]
			if !ok {
				return nil, fmt.Errorf("spec.variablesFrom[%d]: %s %s has no key %q", i, kind, ref.Name, ref.Key)
			}
			src.Origin = fmt.Sprintf("spec.variablesFrom[%d] (%s %s key %s)", i, kind, ref.Name, ref.Key)
			src.Values, src.Dotenv = nil, &content
		}
		sources = append(sources, src)
	}
	return NewVariables(append(sources, extra...)...)
}
