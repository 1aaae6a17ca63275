package swarm

import (
	"context"
	"fmt"
	"sort"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// ServiceView is the observed state of a service.
type ServiceView struct {
	ID          string
	Image       string
	Desired     int64
	Running     int64
	UpdateState string
	// UpdateFailed: Swarm paused or rolled back the update to the spec
	// wanted now. A rollback onto that spec is not a failure.
	UpdateFailed bool
	Ready        bool
	// Message explains why the service is not ready: the newest task error
	// or the update status message.
	Message string
}

// View is the observed state of a listed service (with its task counts,
// see ListOwned), given its tasks for the reason it is not ready. Ready:
// running tasks equal desired ones and the last update neither paused nor
// rolled back, nor still in progress. An update rolled back (or rolling
// back) onto the spec wanted now (desiredHash, the SpecHash of the desired
// spec, equals the live spec's label: the spec was set back, e.g. by a
// Promotion rolling a release back) has not failed: it is settled, or
// converging, and no update will come to clear its state.
func View(svc swarm.Service, tasks []swarm.Task, desiredHash string) ServiceView {
	view := ServiceView{ID: svc.ID}
	if cs := svc.Spec.TaskTemplate.ContainerSpec; cs != nil {
		view.Image = cs.Image
	}
	if svc.ServiceStatus != nil {
		view.Desired = int64(svc.ServiceStatus.DesiredTasks)
		view.Running = int64(svc.ServiceStatus.RunningTasks)
	}
	if u := svc.UpdateStatus; u != nil {
		view.UpdateState = string(u.State)
		ontoDesired := desiredHash != "" && svc.Spec.Labels[kargov1.SpecHashLabel] == desiredHash
		switch {
		case u.State == swarm.UpdateStateRollbackCompleted && ontoDesired:
			// Settled: ready once its tasks run.
		case u.State == swarm.UpdateStateRollbackStarted && ontoDesired:
			view.Message = "rolling back onto the spec wanted"
		case UpdateFailed(view.UpdateState):
			view.UpdateFailed = true
			view.Message = fmt.Sprintf("update %s: %s", u.State, u.Message)
		case u.State == swarm.UpdateStateUpdating:
			view.Message = "updating"
		}
	}
	inProgress := view.UpdateState == string(swarm.UpdateStateUpdating) || view.UpdateState == string(swarm.UpdateStateRollbackStarted)
	view.Ready = !view.UpdateFailed && !inProgress && view.Running == view.Desired
	if view.Ready {
		return view
	}
	if msg := taskError(tasks); msg != "" {
		if view.Message != "" {
			view.Message += ": "
		}
		view.Message += msg
	}
	view.Message = Truncate(view.Message, MaxErrorText)
	return view
}

// UpdateFailed tells whether a service's update state means its last update
// failed: paused by failureAction pause, or rolled back (or rolling back).
func UpdateFailed(state string) bool {
	switch swarm.UpdateState(state) {
	case swarm.UpdateStatePaused, swarm.UpdateStateRollbackStarted, swarm.UpdateStateRollbackPaused, swarm.UpdateStateRollbackCompleted:
		return true
	}
	return false
}

// taskError returns the error of the newest task that has one: why it
// failed, or why it waits ("task pending: no suitable node (...)": Swarm's
// scheduler puts that in Err too). A task's Message is Swarm's generic
// text of its state ("pending task scheduling"): taken for a reason, the
// replacement of a crashed task would hide the crash.
func taskError(tasks []swarm.Task) string {
	sort.Slice(tasks, func(i, j int) bool { return tasks[i].Meta.UpdatedAt.After(tasks[j].Meta.UpdatedAt) })
	for _, t := range tasks {
		if t.Status.Err != "" {
			return fmt.Sprintf("task %s: %s", t.Status.State, t.Status.Err)
		}
	}
	return ""
}

// ContainersLeft counts the running containers of a stack namespace on the
// endpoint's node. Swarm drops tasks as soon as their service is removed,
// while their containers may take the stop grace period to exit; networks
// cannot be removed before they have. Exited containers, which Swarm
// removes lazily, no longer hold a network endpoint.
func (c *Client) ContainersLeft(ctx context.Context, namespace string) (int, error) {
	containers, err := c.api.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", kargov1.StackNamespaceLabel+"="+namespace))})
	if err != nil {
		return 0, fmt.Errorf("list containers: %w", err)
	}
	return len(containers), nil
}
