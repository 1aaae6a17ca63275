package controllers

import (
	"context"

	"github.com/kargo-io/kargo/internal/policy"
)

// policyDeniedError: a Service of the Stack breaks its Environment's
// spec.policy; the message names every Service and field.
type policyDeniedError struct{ error }

// Unwrap returns the wrapped error.
func (e policyDeniedError) Unwrap() error { return e.error }

// checkPolicy checks every Service of the Stack against its Environment's
// policy and shared networks, after the Services are known and before the
// first write to the Swarm: a Stack that breaks it changes nothing there
// (what runs keeps running) and stalls; a change of the Stack, its Services
// or the Environment reconciles it again.
func (r *StackReconciler) checkPolicy(_ context.Context, s *stackScope) error {
	if err := policy.Check(s.env.EnvironmentSpec(), s.stack, s.services); err != nil {
		return policyDeniedError{err}
	}
	return nil
}
