package swarm

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
)

// TaskFailure is a task of a service that failed (a non-zero exit, a
// failed health check), was rejected (an image that cannot be pulled), or
// was shut down after an error.
type TaskFailure struct {
	// Service is the service's Swarm name.
	Service, TaskID, State string
	// Image the task ran: the failures of one version of a service, e.g.
	// the new one of an update, are told from those of the one before.
	Image string
	// Message is the task's error, cut to MaxErrorText.
	Message  string
	ExitCode int
	// At is when the task reached State.
	At time.Time
}

// TaskFailures lists the failures of the named services' tasks (Swarm
// names; those that do not exist have none) at or after since, oldest
// first: one service listing and one task listing. A task shut down
// because its service was updated or scaled down is no failure.
func (c *Client) TaskFailures(ctx context.Context, services []string, since time.Time) ([]TaskFailure, error) {
	if len(services) == 0 {
		return nil, nil
	}
	args := filters.NewArgs()
	for _, name := range services {
		args.Add("name", name)
	}
	listed, err := c.api.ServiceList(ctx, swarm.ServiceListOptions{Filters: args})
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	// The name filter matches prefixes: only the exact names count.
	listed = slices.DeleteFunc(listed, func(s swarm.Service) bool { return !slices.Contains(services, s.Spec.Name) })
	tasks, err := c.tasksOf(ctx, listed)
	if err != nil {
		return nil, err
	}
	var failures []TaskFailure
	for _, svc := range listed {
		for _, t := range tasks[svc.ID] {
			if !failed(t) || t.Status.Timestamp.Before(since) {
				continue
			}
			f := TaskFailure{Service: svc.Spec.Name, TaskID: t.ID, State: string(t.Status.State),
				Message: Truncate(taskMessage(t), MaxErrorText), At: t.Status.Timestamp}
			if cs := t.Status.ContainerStatus; cs != nil {
				f.ExitCode = cs.ExitCode
			}
			if cs := t.Spec.ContainerSpec; cs != nil {
				f.Image = cs.Image
			}
			failures = append(failures, f)
		}
	}
	slices.SortFunc(failures, func(a, b TaskFailure) int { return a.At.Compare(b.At) })
	return failures, nil
}

// failed tells whether a task failed: its state is failed (a container
// killed for failing its health check is too) or rejected, or it was shut
// down with an error. A task shut down by an update has no error.
func failed(t swarm.Task) bool {
	switch t.Status.State {
	case swarm.TaskStateFailed, swarm.TaskStateRejected:
		return true
	case swarm.TaskStateShutdown:
		return t.Status.Err != ""
	}
	return false
}
