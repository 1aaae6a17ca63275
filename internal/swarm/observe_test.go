package swarm

import (
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

func TestViewUpdateStates(t *testing.T) {
	service := func(state swarm.UpdateState, hash string, running uint64) swarm.Service {
		svc := swarm.Service{ServiceStatus: &swarm.ServiceStatus{DesiredTasks: 1, RunningTasks: running}}
		svc.Spec.Labels = map[string]string{kargov1.SpecHashLabel: hash}
		if state != "" {
			svc.UpdateStatus = &swarm.UpdateStatus{State: state, Message: "update " + string(state)}
		}
		return svc
	}
	cases := []struct {
		name        string
		svc         swarm.Service
		desiredHash string
		ready       bool
		failed      bool
	}{
		{"converged", service("", "h1", 1), "h1", true, false},
		{"tasks missing", service("", "h1", 0), "h1", false, false},
		{"updating", service(swarm.UpdateStateUpdating, "h2", 1), "h2", false, false},
		{"update completed", service(swarm.UpdateStateCompleted, "h2", 1), "h2", true, false},
		{"paused", service(swarm.UpdateStatePaused, "h2", 1), "h2", false, true},
		{"rolled back from the spec wanted", service(swarm.UpdateStateRollbackCompleted, "h1", 1), "h2", false, true},
		{"rolled back onto the spec wanted now", service(swarm.UpdateStateRollbackCompleted, "h1", 1), "h1", true, false},
		{"rolled back onto it, tasks missing", service(swarm.UpdateStateRollbackCompleted, "h1", 0), "h1", false, false},
		{"rolling back onto it", service(swarm.UpdateStateRollbackStarted, "h1", 1), "h1", false, false},
		{"rolling back from the spec wanted", service(swarm.UpdateStateRollbackStarted, "h1", 1), "h2", false, true},
		{"rollback onto it paused", service(swarm.UpdateStateRollbackPaused, "h1", 1), "h1", false, true},
		{"rolled back, desired unknown", service(swarm.UpdateStateRollbackCompleted, "h1", 1), "", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := View(tc.svc, nil, tc.desiredHash)
			if got.Ready != tc.ready || got.UpdateFailed != tc.failed {
				t.Errorf("Ready = %v, UpdateFailed = %v; want %v, %v (message %q)", got.Ready, got.UpdateFailed, tc.ready, tc.failed, got.Message)
			}
		})
	}
}

func TestTaskError(t *testing.T) {
	now := time.Now()
	task := func(age time.Duration, state swarm.TaskState, message, err string) swarm.Task {
		task := swarm.Task{Status: swarm.TaskStatus{State: state, Message: message, Err: err}}
		task.UpdatedAt = now.Add(-age)
		return task
	}
	cases := []struct {
		name  string
		tasks []swarm.Task
		want  string
	}{
		{"none", nil, ""},
		{"running, no error", []swarm.Task{task(0, swarm.TaskStateRunning, "started", "")}, ""},
		{"the newest error", []swarm.Task{
			task(2*time.Minute, swarm.TaskStateFailed, "started", "task: non-zero exit (2)"),
			task(time.Minute, swarm.TaskStateFailed, "started", "task: non-zero exit (3)"),
		}, "task failed: task: non-zero exit (3)"},
		{"a crash under its pending replacement", []swarm.Task{
			task(0, swarm.TaskStatePending, "pending task scheduling", ""),
			task(time.Second, swarm.TaskStateFailed, "started", "task: non-zero exit (1)"),
		}, "task failed: task: non-zero exit (1)"},
		{"no node for it", []swarm.Task{
			task(0, swarm.TaskStatePending, "pending task scheduling", "no suitable node (scheduling constraints not satisfied on 1 node)"),
		}, "task pending: no suitable node (scheduling constraints not satisfied on 1 node)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := taskError(tc.tasks); got != tc.want {
				t.Errorf("taskError = %q, want %q", got, tc.want)
			}
		})
	}
}
