package swarm

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	"github.com/docker/docker/api/types/swarm"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// Normalize returns the parts of a service spec Kargo manages, with
// what Swarm fills in by itself removed, as generic JSON. Desired and live
// specs are equal when their normal forms are.
func Normalize(spec swarm.ServiceSpec) map[string]any {
	data, err := json.Marshal(spec)
	if err != nil {
		panic(fmt.Sprintf("marshal service spec: %v", err))
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		panic(fmt.Sprintf("unmarshal service spec: %v", err))
	}
	if labels, ok := m["Labels"].(map[string]any); ok {
		delete(labels, kargov1.SpecHashLabel)
	}
	for _, p := range swarmDefaults {
		deleteIfEqual(m, p.path, p.value)
	}
	PruneEmpty(m)
	return m
}

// swarmDefaults are values Swarm writes into a spec when it was left empty.
var swarmDefaults = []struct {
	path  []string
	value any
}{
	{[]string{"TaskTemplate", "ContainerSpec", "Isolation"}, "default"},
	{[]string{"TaskTemplate", "ForceUpdate"}, float64(0)},
	{[]string{"TaskTemplate", "Runtime"}, "container"},
	{[]string{"EndpointSpec", "Mode"}, "vip"},
	{[]string{"TaskTemplate", "RestartPolicy", "MaxAttempts"}, float64(0)},
	{[]string{"TaskTemplate", "RestartPolicy", "Condition"}, "any"},
	{[]string{"UpdateConfig", "FailureAction"}, "pause"},
	{[]string{"UpdateConfig", "Order"}, "stop-first"},
	{[]string{"RollbackConfig", "FailureAction"}, "pause"},
	{[]string{"RollbackConfig", "Order"}, "stop-first"},
}

func deleteIfEqual(m map[string]any, path []string, value any) {
	for _, key := range path[:len(path)-1] {
		next, ok := m[key].(map[string]any)
		if !ok {
			return
		}
		m = next
	}
	last := path[len(path)-1]
	if reflect.DeepEqual(m[last], value) {
		delete(m, last)
	}
}

// PruneEmpty drops null, empty strings, empty lists and empty objects, which
// JSON round trips through the engine do not keep consistently.
func PruneEmpty(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case string:
		return t == ""
	case []any:
		for _, e := range t {
			PruneEmpty(e)
		}
		return len(t) == 0
	case map[string]any:
		for k, e := range t {
			if PruneEmpty(e) {
				delete(t, k)
			}
		}
		return len(t) == 0
	}
	return false
}

// Diff lists the dotted paths where two JSON values differ, sorted.
func Diff(desired, live any) []string {
	var out []string
	diff("", desired, live, &out)
	sort.Strings(out)
	return out
}

func diff(path string, a, b any, out *[]string) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if !aok || !bok {
		if !reflect.DeepEqual(a, b) {
			*out = append(*out, path)
		}
		return
	}
	keys := map[string]bool{}
	for k := range am {
		keys[k] = true
	}
	for k := range bm {
		keys[k] = true
	}
	for k := range keys {
		p := k
		if path != "" {
			p = path + "." + k
		}
		diff(p, am[k], bm[k], out)
	}
}
