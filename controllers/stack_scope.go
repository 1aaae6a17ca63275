package controllers

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/desired"
	"github.com/kargo-io/kargo/internal/swarm"
)

// stackScope is what the phases of one reconcile share.
type stackScope struct {
	stack  *kargov1.Stack
	env    kargov1.EnvironmentObject
	engine *swarm.Client
	owner  string
	// owned is what the Stack had on the Swarm when this reconcile began,
	// listed once per kind and read by every phase after.
	owned    *swarm.Owned
	services []kargov1.Service
	// serviceObjects are the Service objects naming the Stack, as the API
	// server has them now.
	serviceObjects []kargov1.Service
	// rendered are the Services rendered from the catalog this reconcile,
	// renderedConfigs the config files of their entries.
	rendered        []kargov1.Service
	renderedConfigs map[string][]byte
	objects         swarm.StackObjects
	// namingKey keys the digests naming config and secret versions and the
	// spec hashes (see reconcileNamingKey).
	namingKey []byte
	// desired names per kind of what the Stack declares now.
	desired map[string]map[string]bool
	// serviceErrors are per-service failures that do not stop the others.
	serviceErrors map[string]error
	// waiting holds, per service not created yet, the dependencies it waits for.
	waiting map[string]string
	// desiredHashes are the spec hashes of the services this reconcile,
	// and applied what it did to each service (created, updated, ...).
	desiredHashes map[string]string
	applied       map[string]swarm.Change
	// previous is the status of the last reconcile: services by name and
	// the inventory by kind/name, to tell a drift from a first creation.
	previous    map[string]kargov1.ServiceState
	inventoried map[string]bool
	// ensured holds kind/name of every object this reconcile applied.
	ensured map[string]bool
	// notReadySince is when Ready last left True (zero when it was True):
	// the start of the convergence measured when it comes back.
	notReadySince time.Time
	// changes counts what this reconcile did, for the summary log line.
	created, updated, pruned int
}

// newStackScope starts the scope of one reconcile from the Stack and what
// its status recorded.
func newStackScope(stack *kargov1.Stack) *stackScope {
	s := &stackScope{
		stack: stack, owner: desired.Owner(stack),
		serviceErrors: map[string]error{}, waiting: map[string]string{},
		desiredHashes: map[string]string{}, applied: map[string]swarm.Change{},
		previous: map[string]kargov1.ServiceState{}, inventoried: map[string]bool{}, ensured: map[string]bool{},
	}
	for _, st := range stack.Status.Services {
		s.previous[st.Name] = st
	}
	for _, e := range stack.Status.Inventory {
		s.inventoried[e.Kind+"/"+e.Name] = true
	}
	if c := meta.FindStatusCondition(stack.Status.Conditions, kargov1.ReadyCondition); c == nil {
		s.notReadySince = stack.CreationTimestamp.Time
	} else if c.Status != metav1.ConditionTrue {
		s.notReadySince = c.LastTransitionTime.Time
	}
	return s
}

// labels are the labels of a Swarm object the Stack owns.
func (s *stackScope) labels(logicalName string) map[string]string {
	labels := s.objects.Labels()
	labels[kargov1.LogicalNameLabel] = logicalName
	return labels
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
