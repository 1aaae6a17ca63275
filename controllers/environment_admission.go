package controllers

import (
	"errors"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/swarm"
)

// refusedEnvironmentError: the manager's settings refuse an Environment
// before any connection to its endpoint. Retrying cannot help until the
// Environment or the manager's flags change.
type refusedEnvironmentError struct {
	reason string
	err    error
}

func (e *refusedEnvironmentError) Error() string { return e.err.Error() }
func (e *refusedEnvironmentError) Unwrap() error { return e.err }

// admit checks env against the manager's settings (--namespaced-environments,
// --allowed-endpoints, --allow-insecure-endpoints), reading only its spec.
// A ClusterEnvironment (no namespace) is subject to the endpoint policy too.
func (e *Engines) admit(env kargov1.EnvironmentObject) error {
	e.mu.Lock()
	policy, noNamespaced := e.endpoints, e.noNamespaced
	e.mu.Unlock()
	if noNamespaced && env.GetNamespace() != "" {
		return &refusedEnvironmentError{reason: kargov1.NamespacedEnvironmentsDisabledReason, err: errors.New(
			"the manager uses no namespaced Environment (--namespaced-environments=false): deploy with a ClusterEnvironment of the cluster's administrators")}
	}
	endpoint := env.EnvironmentSpec().Endpoint
	if err := policy.Check(endpoint.Host, endpoint.Insecure); err != nil {
		return &refusedEnvironmentError{reason: kargov1.EndpointNotAllowedReason, err: err}
	}
	return nil
}

// endpointFailure is the Ready reason of a failure to use an Environment's
// endpoint, and whether it stalls: a refused Environment does until it
// changes; an unreachable engine or a TLS failure is retried.
func endpointFailure(err error) (reason string, stalled bool) {
	var refused *refusedEnvironmentError
	var epErr *swarm.EndpointError
	switch {
	case errors.As(err, &refused):
		return refused.reason, true
	case errors.As(err, &epErr):
		return epErr.Reason, false
	default:
		return kargov1.UnreachableReason, false
	}
}
