package controllers

import (
	"errors"
	"fmt"
	"strings"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/swarm"
)

// invalidSpecError marks errors that retrying cannot fix.
type invalidSpecError struct{ error }

// Unwrap returns the wrapped error.
func (e invalidSpecError) Unwrap() error { return e.error }

// dependencyCycleError: dependsOn entries form a cycle.
type dependencyCycleError struct {
	what  string
	cycle []string
}

func (e dependencyCycleError) Error() string {
	return fmt.Sprintf("dependency cycle between %s: %s", e.what, strings.Join(e.cycle, " -> "))
}

// dependencyNotReadyError: Stacks of spec.dependsOn are missing or not Ready.
type dependencyNotReadyError struct{ waiting []string }

func (e dependencyNotReadyError) Error() string {
	return "waiting for " + strings.Join(e.waiting, "; ")
}

// classifyError maps a reconcile error to the Ready reason, and tells
// whether retrying cannot help (Stalled).
func classifyError(err error) (reason string, stalled bool) {
	var conflict *swarm.ConflictError
	var claimed namespaceClaimedError
	var invalid invalidSpecError
	var missing sourceNotFoundError
	var cycle dependencyCycleError
	var render renderFailedError
	var denied policyDeniedError
	switch {
	case errors.As(err, &conflict), errors.As(err, &claimed):
		return kargov1.ConflictReason, true
	case errors.As(err, &render):
		return kargov1.RenderFailedReason, true
	case errors.As(err, &denied):
		return kargov1.PolicyDeniedReason, true
	case errors.As(err, &cycle):
		return kargov1.DependencyCycleReason, true
	case errors.As(err, &invalid):
		return kargov1.InvalidSpecReason, true
	case errors.As(err, &missing):
		return kargov1.SourceNotFoundReason, false
	default:
		return kargov1.ApplyFailedReason, false
	}
}

// sourceNotFoundError: a ConfigMap, Secret or key is missing.
type sourceNotFoundError struct{ error }

// Unwrap returns the wrapped error.
func (e sourceNotFoundError) Unwrap() error { return e.error }

// namespaceClaimedError: the Stack's Swarm namespace holds objects of
// another owner.
type namespaceClaimedError struct {
	namespace string
	foreign   []swarm.ForeignObject
}

func (e namespaceClaimedError) Error() string {
	const shown = 5
	parts := make([]string, 0, shown)
	for i, f := range e.foreign {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %d more", len(e.foreign)-shown))
			break
		}
		parts = append(parts, f.String())
	}
	return fmt.Sprintf("swarm namespace %s belongs to someone else: %s; nothing is created (choose another spec.namespace)", e.namespace, strings.Join(parts, ", "))
}

// environmentSuspendedError: the Stack's Environment has spec.suspend set.
type environmentSuspendedError struct{ what string }

func (e environmentSuspendedError) Error() string {
	return e.what + " is suspended (spec.suspend): the Swarm is left as it is"
}
