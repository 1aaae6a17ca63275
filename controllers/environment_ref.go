package controllers

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// Environments and ClusterEnvironments are told apart by their key: a
// ClusterEnvironment's has no namespace. Engine clients, event
// subscriptions and the Stack index use these keys.

// environmentKey is the key of what a Stack of namespace names.
func environmentKey(namespace string, ref kargov1.EnvironmentReference) types.NamespacedName {
	if ref.IsCluster() {
		return types.NamespacedName{Name: ref.Name}
	}
	return types.NamespacedName{Namespace: namespace, Name: ref.Name}
}

// stackEnvironmentKey is the key of a Stack's Environment or ClusterEnvironment.
func stackEnvironmentKey(stack *kargov1.Stack) types.NamespacedName {
	return environmentKey(stack.Namespace, stack.Spec.EnvironmentRef)
}

// environmentName names an Environment (namespace/name) or a
// ClusterEnvironment (name) in logs and metric labels.
func environmentName(key types.NamespacedName) string {
	if key.Namespace == "" {
		return key.Name
	}
	return key.String()
}

// newEnvironmentObject returns an empty object of the kind key denotes,
// named by it.
func newEnvironmentObject(key types.NamespacedName) kargov1.EnvironmentObject {
	var env kargov1.EnvironmentObject = &kargov1.Environment{}
	if key.Namespace == "" {
		env = &kargov1.ClusterEnvironment{}
	}
	env.SetNamespace(key.Namespace)
	env.SetName(key.Name)
	return env
}

// getEnvironment reads the Environment or ClusterEnvironment of key.
func getEnvironment(ctx context.Context, c client.Reader, key types.NamespacedName) (kargov1.EnvironmentObject, error) {
	env := newEnvironmentObject(key)
	if err := c.Get(ctx, key, env); err != nil {
		return nil, err
	}
	return env, nil
}

// sourceNamespace is where the ConfigMaps and Secrets an Environment names
// (TLS, variablesFrom) are read: its own namespace, or the manager's
// (clusterResourceNamespace) for a ClusterEnvironment.
func sourceNamespace(env kargov1.EnvironmentObject, clusterResourceNamespace string) string {
	if ns := env.GetNamespace(); ns != "" {
		return ns
	}
	return clusterResourceNamespace
}

// sourceNamespace is where env's ConfigMaps and Secrets are read.
func (s Settings) sourceNamespace(env kargov1.EnvironmentObject) string {
	return sourceNamespace(env, s.ClusterResourceNamespace)
}
