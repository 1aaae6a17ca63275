package swarm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/pkg/stdcopy"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// JobSpec is a one-shot verification job run as a Swarm service of one
// task that is not restarted.
type JobSpec struct {
	// Name is the Swarm service name (e.g. kargo-verify-<hash>).
	Name  string
	Image string
	// Command replaces the image's entrypoint when set.
	Command []string
	Args    []string
	// Env entries are KEY=value.
	Env []string
	// Networks are the names of the Swarm networks the job joins.
	Networks []string
	// Labels of the service. Labels[kargov1.PromotionLabel] is required:
	// it says whose job the service is (kargov1.ManagerLabel, when set,
	// too).
	Labels map[string]string
}

// Bounds of JobState.Output: the last lines of a job's output, which the
// Promotion's status and events repeat.
const (
	JobOutputLines = 20
	JobOutputBytes = 2048
)

// StartJob creates the job's service: one replica, restart condition none
// (its task runs once: a failed verification is not run again), without
// querying the registry (the node pulls the image itself, and a job whose
// image cannot be pulled fails, see JobState). Not mode replicated-job:
// Swarm keeps the tasks and exited containers of a removed job service for
// ever (moby/moby#44312), a replicated service's go with it. A service of
// that name with the same promotion (and manager) labels is the job,
// started before: nothing is done. One that belongs to something else is a
// *ConflictError and is left alone.
func (c *Client) StartJob(ctx context.Context, spec JobSpec) error {
	promotion := spec.Labels[kargov1.PromotionLabel]
	switch {
	case spec.Name == "":
		return errors.New("job: name is required")
	case spec.Image == "":
		return fmt.Errorf("job %s: image is required", spec.Name)
	case promotion == "":
		return fmt.Errorf("job %s: label %s is required", spec.Name, kargov1.PromotionLabel)
	}
	if live, found, err := c.InspectService(ctx, spec.Name); err != nil || found {
		if err != nil {
			return fmt.Errorf("job %s: %w", spec.Name, err)
		}
		return sameJob(live, spec.Labels)
	}
	var networks []swarm.NetworkAttachmentConfig
	for _, name := range spec.Networks {
		// By exact name: the engine would also take an ID prefix.
		id, err := c.ExternalNetwork(ctx, name)
		if err != nil {
			return fmt.Errorf("job %s: %w", spec.Name, err)
		}
		networks = append(networks, swarm.NetworkAttachmentConfig{Target: id})
	}
	one := uint64(1)
	svc := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: spec.Name, Labels: maps.Clone(spec.Labels)},
		Mode:        swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: spec.Image, Command: spec.Command, Args: spec.Args, Env: spec.Env},
			RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionNone},
			Networks:      networks,
		},
	}
	_, err := c.api.ServiceCreate(ctx, svc, swarm.ServiceCreateOptions{})
	if err != nil && isNameConflict(err) {
		// Created meanwhile, by another reconcile of the same Promotion or
		// by someone else.
		live, found, ierr := c.InspectService(ctx, spec.Name)
		if ierr != nil {
			return fmt.Errorf("job %s: %w", spec.Name, ierr)
		}
		if found {
			return sameJob(live, spec.Labels)
		}
	}
	if err != nil {
		// The engine's message quotes no part of the spec (no env values).
		return fmt.Errorf("create job %s: %w", spec.Name, err)
	}
	return nil
}

// sameJob tells whether a live service is the job the labels describe:
// same promotion, and same manager when both have one.
func sameJob(live swarm.Service, labels map[string]string) error {
	got := live.Spec.Labels
	manager, liveManager := labels[kargov1.ManagerLabel], got[kargov1.ManagerLabel]
	if got[kargov1.PromotionLabel] == labels[kargov1.PromotionLabel] && (manager == "" || liveManager == "" || manager == liveManager) {
		return nil
	}
	return foreignJob(live)
}

// foreignJob is the error for a service of a job's name that is not that
// job: it names its promotion, else its Stack owner.
func foreignJob(live swarm.Service) error {
	owner := live.Spec.Labels[kargov1.PromotionLabel]
	if owner == "" {
		owner = live.Spec.Labels[kargov1.OwnerLabel]
	}
	return &ConflictError{Kind: KindService, Name: live.Spec.Name, Owner: owner}
}

// inspectJob returns the job's service: an error IsNotFound recognizes
// when there is none, a *ConflictError when the service of that name is
// no Promotion's job (JobState would misreport it, RemoveJob must not
// touch it).
func (c *Client) inspectJob(ctx context.Context, name string) (swarm.Service, error) {
	live, found, err := c.InspectService(ctx, name)
	switch {
	case err != nil:
		return swarm.Service{}, fmt.Errorf("job %s: %w", name, err)
	case !found:
		return swarm.Service{}, fmt.Errorf("job service %s: %w", name, errdefs.ErrNotFound)
	case live.Spec.Labels[kargov1.PromotionLabel] == "":
		return swarm.Service{}, foreignJob(live)
	}
	return live, nil
}

// JobState is how a job stands.
type JobState struct {
	// Done: the job's task reached a final state (see JobState).
	Done bool
	// Succeeded: the job completed, its command exited 0.
	Succeeded bool
	ExitCode  int
	// Message is the task's error, else its status message ("task:
	// non-zero exit (1)", "No such image: ...", "no suitable node (...)"),
	// cut to MaxErrorText.
	Message string
	// Output is, once Done, the tail of the job's stdout and stderr: at
	// most JobOutputLines lines and JobOutputBytes bytes.
	Output string
}

// JobState reads the job's task and, once it is done, its logs. A job
// whose service does not exist is an error IsNotFound recognizes.
//
// The task is done in a final state: complete (Succeeded), failed (exit
// code other than 0, or a failed start), rejected (the node refused it: an
// image that cannot be pulled, a mount that cannot be made), or shutdown,
// orphaned or removed (its node left, the service changed). With restart
// condition none, Swarm never replaces it. A task that cannot be scheduled
// (no node fits its constraints or resources) stays pending for ever, with
// Message "no suitable node (...)": Swarm does not give up on it, so the
// caller's timeout ends such a job and can report that Message.
func (c *Client) JobState(ctx context.Context, name string) (JobState, error) {
	live, err := c.inspectJob(ctx, name)
	if err != nil {
		return JobState{}, err
	}
	tasks, err := c.api.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", live.ID))})
	if err != nil {
		return JobState{}, fmt.Errorf("list tasks of job %s: %w", name, err)
	}
	if len(tasks) == 0 {
		return JobState{Message: "no task yet"}, nil
	}
	task := tasks[0]
	for _, t := range tasks[1:] {
		if t.Meta.CreatedAt.After(task.Meta.CreatedAt) {
			task = t
		}
	}
	state := JobState{Message: Truncate(taskMessage(task), MaxErrorText)}
	if cs := task.Status.ContainerStatus; cs != nil {
		state.ExitCode = cs.ExitCode
	}
	switch task.Status.State {
	case swarm.TaskStateComplete:
		state.Done, state.Succeeded = true, true
	case swarm.TaskStateFailed, swarm.TaskStateRejected, swarm.TaskStateShutdown, swarm.TaskStateOrphaned, swarm.TaskStateRemove:
		state.Done = true
	default:
		return state, nil
	}
	state.Output, err = c.jobOutput(ctx, live.ID)
	if err != nil {
		// The outcome is known; its output is a courtesy. A node that
		// left takes its logs with it: failing here would never end.
		state.Output = "(output not available: " + ErrorText(err) + ")"
	}
	return state, nil
}

// taskMessage is the task's error, else its status message.
func taskMessage(t swarm.Task) string {
	if t.Status.Err != "" {
		return t.Status.Err
	}
	return t.Status.Message
}

// jobOutput reads the last lines of the job's stdout and stderr from its
// logs (a log driver the engine reads back: json-file, local, journald),
// bounded by TailText. Each is in its order; stdout and stderr are two
// pipes, so lines of both written at about the same time may swap.
func (c *Client) jobOutput(ctx context.Context, serviceID string) (string, error) {
	logs, err := c.api.ServiceLogs(ctx, serviceID, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(JobOutputLines)})
	if err != nil {
		return "", fmt.Errorf("logs: %w", err)
	}
	defer func() { _ = logs.Close() }()
	out := &tailWriter{limit: JobOutputBytes + utf8.UTFMax}
	if _, err := stdcopy.StdCopy(out, out, logs); err != nil {
		return "", fmt.Errorf("logs: %w", err)
	}
	return TailText(out.buf, JobOutputLines, JobOutputBytes), nil
}

// tailWriter keeps about the last limit bytes written to it.
type tailWriter struct {
	buf   []byte
	limit int
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	if len(w.buf) > 2*w.limit {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-w.limit:]...)
	}
	return len(p), nil
}

// TailText is the end of out: its last lines (at most lines) within the
// last maxBytes bytes, starting on a UTF-8 character boundary, with "..."
// in front when its first line was cut.
func TailText(out []byte, lines, maxBytes int) string {
	const ellipsis = "..."
	out = bytes.TrimRight(out, "\n")
	cut := false
	if len(out) > maxBytes {
		start := len(out) - maxBytes + len(ellipsis)
		for start < len(out) && !utf8.RuneStart(out[start]) {
			start++
		}
		out, cut = out[start:], out[start-1] != '\n'

	}
	text := string(out)
	if all := strings.Split(text, "\n"); len(all) > lines {
		text, cut = strings.Join(all[len(all)-lines:], "\n"), false
	}
	if cut {
		text = ellipsis + text
	}
	return text
}

// RemoveJob removes the job's service (its task's container goes with it);
// one already gone is not an error. A service of that name that is no
// Promotion's job is left alone: a *ConflictError.
func (c *Client) RemoveJob(ctx context.Context, name string) error {
	live, err := c.inspectJob(ctx, name)
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := c.api.ServiceRemove(ctx, live.ID); err != nil && !IsNotFound(err) {
		return fmt.Errorf("remove job %s: %w", name, err)
	}
	return nil
}
