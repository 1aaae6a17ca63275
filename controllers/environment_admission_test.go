package controllers

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/endpoints"
)

// TestNamespacedEnvironmentsDisabled: with --namespaced-environments=false
// the engine clients refuse every namespaced Environment before building a
// client (a stall, reason NamespacedEnvironmentsDisabled), whatever its
// endpoint, and serve ClusterEnvironments. The refusal path itself (no
// connection, conditions, events) is the one test/tenancy exercises for
// the endpoint flags: admit is the one gate of both.
func TestNamespacedEnvironmentsDisabled(t *testing.T) {
	spec := kargov1.EnvironmentSpec{Endpoint: kargov1.Endpoint{Host: "unix:///run/kargo-test-nowhere.sock"}}
	namespaced := &kargov1.Environment{ObjectMeta: metav1.ObjectMeta{Name: "local", Namespace: "team"}, Spec: spec}
	cluster := &kargov1.ClusterEnvironment{ObjectMeta: metav1.ObjectMeta{Name: "shared"}, Spec: kargov1.ClusterEnvironmentSpec{EnvironmentSpec: spec}}
	for _, tc := range []struct {
		name          string
		settings      Settings
		env           kargov1.EnvironmentObject
		refusedReason string
	}{
		{"namespaced allowed by default", Settings{}, namespaced, ""},
		{"namespaced refused", Settings{NoNamespacedEnvironments: true}, namespaced, kargov1.NamespacedEnvironmentsDisabledReason},
		{"cluster served", Settings{NoNamespacedEnvironments: true}, cluster, ""},
		{"cluster still subject to --allowed-endpoints", Settings{NoNamespacedEnvironments: true, Endpoints: endpoints.Policy{Allowed: mustPatterns(t, "unix:///var/run/*.sock")}}, cluster, kargov1.EndpointNotAllowedReason},
	} {
		t.Run(tc.name, func(t *testing.T) {
			engines := &Engines{}
			engines.configure(tc.settings, 2)
			defer engines.Forget(client.ObjectKeyFromObject(tc.env))
			_, err := engines.For(context.Background(), nil, tc.env)
			if tc.refusedReason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			reason, stalled := endpointFailure(err)
			if err == nil || reason != tc.refusedReason || !stalled {
				t.Fatalf("got %v (reason %s, stalled %v), want a stall with reason %s", err, reason, stalled, tc.refusedReason)
			}
		})
	}
}

func mustPatterns(t *testing.T, value string) endpoints.Patterns {
	var p endpoints.Patterns
	if err := p.Set(value); err != nil {
		t.Fatal(err)
	}
	return p
}
