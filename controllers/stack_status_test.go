package controllers

import (
	"errors"
	"fmt"
	"testing"
	"time"

	dockerswarm "github.com/docker/docker/api/types/swarm"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/swarm"
)

func TestClassifyError(t *testing.T) {
	conflict := &swarm.ConflictError{Kind: "service", Name: "geo_web"}
	for _, tc := range []struct {
		name    string
		err     error
		reason  string
		stalled bool
	}{
		{"conflict", conflict, kargov1.ConflictReason, true},
		{"wrapped conflict", fmt.Errorf("service web: %w", conflict), kargov1.ConflictReason, true},
		{"render", renderFailedError{errors.New("no catalog entry")}, kargov1.RenderFailedReason, true},
		{"cycle", dependencyCycleError{what: "services", cycle: []string{"a", "b", "a"}}, kargov1.DependencyCycleReason, true},
		{"invalid spec", invalidSpecError{errors.New("no service")}, kargov1.InvalidSpecReason, true},
		{"wrapped invalid spec", fmt.Errorf("apply: %w", invalidSpecError{errors.New("x")}), kargov1.InvalidSpecReason, true},
		{"missing source", sourceNotFoundError{errors.New("Secret db")}, kargov1.SourceNotFoundReason, false},
		{"engine refusal", errors.New("port 18283 is already in use"), kargov1.ApplyFailedReason, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, stalled := classifyError(tc.err)
			if reason != tc.reason || stalled != tc.stalled {
				t.Errorf("classifyError(%v) = %s, stalled %v; want %s, stalled %v", tc.err, reason, stalled, tc.reason, tc.stalled)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	interval := time.Hour
	ready := func(name string) kargov1.ServiceState {
		return kargov1.ServiceState{Name: name, Ready: true, Replicas: "1/1"}
	}
	converging := func(name string) kargov1.ServiceState {
		return kargov1.ServiceState{Name: name, Replicas: "0/1"}
	}
	for _, tc := range []struct {
		name string
		// services are the observed states; errs and waiting as the phases left them.
		services []kargov1.ServiceState
		errs     map[string]error
		waiting  map[string]string
		// notReadyFor is how long Ready has been False before this reconcile;
		// age is the Stack's (default: an hour).
		notReadyFor, age time.Duration

		status       metav1.ConditionStatus
		reason       string
		message      string
		stalled      bool
		readyCount   string
		observed     bool
		requeueAfter time.Duration
		// failed: the error is returned, for the controller's backoff.
		failed bool
	}{
		{
			name: "all ready", services: []kargov1.ServiceState{ready("api"), ready("web")},
			status: metav1.ConditionTrue, reason: kargov1.ReconciledReason, message: "2 service(s) ready",
			readyCount: "2/2", observed: true, requeueAfter: interval,
		},
		{
			name: "new stack without services yet", age: time.Second,
			status: metav1.ConditionFalse, reason: kargov1.ServicesNotReadyReason, message: "no Service names this stack yet",
			readyCount: "0/0", requeueAfter: emptyStackGrace - time.Second - 100*time.Millisecond,
		},
		{
			name: "tasks starting", services: []kargov1.ServiceState{converging("web")}, notReadyFor: time.Second,
			status: metav1.ConditionFalse, reason: kargov1.ServicesNotReadyReason, message: "web: 0/1 tasks running",
			readyCount: "0/1", observed: true, requeueAfter: freshConvergencePoll,
		},
		{
			name: "stack of networks only", age: time.Minute,
			status: metav1.ConditionTrue, reason: kargov1.ReconciledReason, message: "0 service(s) ready",
			readyCount: "0/0", observed: true, requeueAfter: interval,
		},
		{
			name: "tasks converging", services: []kargov1.ServiceState{ready("api"), converging("web")},
			status: metav1.ConditionFalse, reason: kargov1.ServicesNotReadyReason, message: "web: 0/1 tasks running",
			readyCount: "1/2", observed: true, requeueAfter: convergencePoll,
		},
		{
			name: "converging past the timeout", services: []kargov1.ServiceState{converging("web")}, notReadyFor: 10 * time.Minute,
			status: metav1.ConditionFalse, reason: kargov1.ServicesNotReadyReason, message: "timeout waiting for services: web: 0/1 tasks running",
			stalled: true, readyCount: "0/1", observed: true, requeueAfter: interval,
		},
		{
			name:     "conflict",
			services: []kargov1.ServiceState{ready("api"), {Name: "web", Replicas: "0/0", Message: "service geo_web exists and is not managed by Kargo: remove or rename it"}},
			errs:     map[string]error{"web": &swarm.ConflictError{Kind: "service", Name: "geo_web"}},
			status:   metav1.ConditionFalse, reason: kargov1.ConflictReason, message: "web: service geo_web exists and is not managed by Kargo",
			stalled: true, readyCount: "1/2", requeueAfter: time.Minute,
		},
		{
			name:     "conflict while another service converges",
			services: []kargov1.ServiceState{converging("api"), {Name: "web", Replicas: "0/0", Message: "service geo_web exists and is not managed by Kargo: remove or rename it"}},
			errs:     map[string]error{"web": &swarm.ConflictError{Kind: "service", Name: "geo_web"}},
			status:   metav1.ConditionFalse, reason: kargov1.ConflictReason, message: "api: 0/1 tasks running; web: service geo_web exists",
			stalled: true, readyCount: "0/2", requeueAfter: convergencePoll,
		},
		{
			name:     "engine refusal",
			services: []kargov1.ServiceState{{Name: "web", Replicas: "0/0", Message: "port 18283 is already in use"}},
			errs:     map[string]error{"web": errors.New("port 18283 is already in use")},
			status:   metav1.ConditionFalse, reason: kargov1.ApplyFailedReason, message: "web: port 18283 is already in use",
			readyCount: "0/1", failed: true,
		},
		{
			name:     "engine refusal past the timeout",
			services: []kargov1.ServiceState{{Name: "web", Replicas: "0/0", Message: "port 18283 is already in use"}},
			errs:     map[string]error{"web": errors.New("port 18283 is already in use")}, notReadyFor: 10 * time.Minute,
			status: metav1.ConditionFalse, reason: kargov1.ApplyFailedReason, message: "failing for longer than spec.timeout (5m0s): web: port 18283",
			stalled: true, readyCount: "0/1", failed: true,
		},
		{
			name:     "rolled back",
			services: []kargov1.ServiceState{{Name: "app", Replicas: "1/1", UpdateState: string(dockerswarm.UpdateStateRollbackCompleted), UpdateFailed: true, Message: "update rollback_completed"}},
			status:   metav1.ConditionFalse, reason: kargov1.RolledBackReason, message: "app: update rollback_completed",
			stalled: true, readyCount: "0/1", observed: true, requeueAfter: interval,
		},
		{
			name: "rolled back onto the spec wanted, its task starting",
			services: []kargov1.ServiceState{{Name: "app", Replicas: "0/1", UpdateState: string(dockerswarm.UpdateStateRollbackCompleted),
				Message: "task failed: task: non-zero exit (3)"}},
			status: metav1.ConditionFalse, reason: kargov1.ServicesNotReadyReason, message: "app: task failed",
			readyCount: "0/1", observed: true, requeueAfter: convergencePoll,
		},
		{
			name:     "waiting for a dependency",
			services: []kargov1.ServiceState{converging("api"), {Name: "web", Message: "waiting for api to be ready"}},
			waiting:  map[string]string{"web": "waiting for api to be ready"},
			status:   metav1.ConditionFalse, reason: kargov1.ServicesNotReadyReason, message: "api: 0/1 tasks running; web: waiting for api to be ready",
			readyCount: "0/2", observed: true, requeueAfter: convergencePoll,
		},
		{
			name:     "only waiting",
			services: []kargov1.ServiceState{{Name: "web", Message: "waiting for api to be ready"}},
			waiting:  map[string]string{"web": "waiting for api to be ready"},
			status:   metav1.ConditionFalse, reason: kargov1.DependencyNotReadyReason, message: "web: waiting for api to be ready",
			readyCount: "0/1", observed: true, requeueAfter: convergencePoll,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.age == 0 {
				tc.age = time.Hour
			}
			stack := &kargov1.Stack{ObjectMeta: metav1.ObjectMeta{Name: "geo", Generation: 3, CreationTimestamp: metav1.NewTime(time.Now().Add(-tc.age))}}
			if tc.notReadyFor > 0 {
				stack.Status.Conditions = []metav1.Condition{{
					Type: kargov1.ReadyCondition, Status: metav1.ConditionFalse, Reason: kargov1.ServicesNotReadyReason,
					LastTransitionTime: metav1.NewTime(time.Now().Add(-tc.notReadyFor)),
				}}
			}
			stack.Status.Services = tc.services
			s := newStackScope(stack)
			s.env = &kargov1.Environment{Spec: kargov1.EnvironmentSpec{Interval: &metav1.Duration{Duration: interval}}}
			if tc.errs != nil {
				s.serviceErrors = tc.errs
			}
			if tc.waiting != nil {
				s.waiting = tc.waiting
			}

			result, err := (&StackReconciler{}).summarize(s)
			if (err != nil) != tc.failed {
				t.Errorf("error %v; want one: %v", err, tc.failed)
			}

			c := meta.FindStatusCondition(stack.Status.Conditions, kargov1.ReadyCondition)
			if c == nil || c.Status != tc.status || c.Reason != tc.reason {
				t.Fatalf("Ready = %+v; want %s %s", c, tc.status, tc.reason)
			}
			if len(c.Message) < len(tc.message) || c.Message[:len(tc.message)] != tc.message {
				t.Errorf("message %q; want it to start with %q", c.Message, tc.message)
			}
			if got := meta.IsStatusConditionTrue(stack.Status.Conditions, kargov1.StalledCondition); got != tc.stalled {
				t.Errorf("Stalled = %v; want %v", got, tc.stalled)
			}
			if stack.Status.ReadyServices != tc.readyCount {
				t.Errorf("readyServices %q; want %q", stack.Status.ReadyServices, tc.readyCount)
			}
			if got := stack.Status.ObservedGeneration == 3; got != tc.observed {
				t.Errorf("observedGeneration %d; want it set to 3: %v", stack.Status.ObservedGeneration, tc.observed)
			}
			// Periodic resyncs carry up to 10% jitter.
			if result.RequeueAfter < tc.requeueAfter || result.RequeueAfter > tc.requeueAfter+tc.requeueAfter/10 {
				t.Errorf("requeue after %s; want %s (+10%%)", result.RequeueAfter, tc.requeueAfter)
			}
		})
	}
}
