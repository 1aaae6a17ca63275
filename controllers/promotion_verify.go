package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/desired"
	"github.com/kargo-io/kargo/internal/swarm"
)

// Verification defaults, as the CRD defaults them (a Stage written by an
// older client may lack them).
const (
	defaultSoak               = 2 * time.Minute
	defaultVerifyTimeout      = 10 * time.Minute
	defaultJobTimeout         = 5 * time.Minute
	verificationJobNamePrefix = "kargo-verify-"
)

func durationOr(d *metav1.Duration, def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return d.Duration
}

// targetStacks reads the target Stacks whose images the Promotion set, in
// the order of the Stage's targets.
func (r *PromotionReconciler) targetStacks(ctx context.Context, s *promotionScope) ([]*kargov1.Stack, error) {
	var stacks []*kargov1.Stack
	for _, target := range s.stage.Spec.Targets {
		if _, ok := s.promotion.Status.StackGenerations[target.Stack]; !ok {
			continue
		}
		stack := &kargov1.Stack{}
		if err := r.Get(ctx, client.ObjectKey{Namespace: s.promotion.Namespace, Name: target.Stack}, stack); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, r.finish(ctx, s, kargov1.PromotionErrored, fmt.Sprintf("target Stack %s was deleted", target.Stack))
			}
			return nil, fmt.Errorf("get stack %s: %w", target.Stack, err)
		}
		stacks = append(stacks, stack)
	}
	if len(stacks) == 0 {
		return nil, r.finish(ctx, s, kargov1.PromotionErrored, fmt.Sprintf("Stage %s no longer targets the Stacks whose images were set", s.stage.Name))
	}
	return stacks, nil
}

// stackReadyFor tells whether a Stack is Ready for a generation, and
// otherwise why not.
func stackReadyFor(stack *kargov1.Stack, generation int64) (bool, string) {
	ready := meta.FindStatusCondition(stack.Status.Conditions, kargov1.ReadyCondition)
	switch {
	case ready == nil || ready.ObservedGeneration < generation:
		return false, fmt.Sprintf("Stack %s has not reconciled the new images yet", stack.Name)
	case ready.Status != metav1.ConditionTrue:
		return false, fmt.Sprintf("Stack %s: %s", stack.Name, ready.Message)
	}
	return true, ""
}

// failures returns why the Promotion failed on the Swarm since the images
// were set, if it did: an update of a target service paused or rolled
// back, or a task of one failed.
func (r *PromotionReconciler) failures(ctx context.Context, s *promotionScope, stacks []*kargov1.Stack) (string, error) {
	since := stepStarted(s.promotion, kargov1.StepSetImages)
	for _, stack := range stacks {
		if ready := meta.FindStatusCondition(stack.Status.Conditions, kargov1.ReadyCondition); ready == nil || ready.ObservedGeneration < s.promotion.Status.StackGenerations[stack.Name] {
			continue // its status is of the images before
		}
		var services []string
		for _, svc := range stack.Status.Services {
			if !svc.Ready && svc.UpdateFailed {
				return fmt.Sprintf("Stack %s: update of service %s %s: %s", stack.Name, svc.Name, svc.UpdateState, svc.Message), nil
			}
			if svc.SwarmName != "" {
				services = append(services, svc.SwarmName)
			}
		}
		if len(services) == 0 {
			continue
		}
		_, engine, err := stackEngine(ctx, r.Client, r.Engines, stack)
		if err != nil {
			return "", fmt.Errorf("stack %s: %w", stack.Name, err)
		}
		failed, err := engine.TaskFailures(ctx, services, since)
		if err != nil {
			return "", fmt.Errorf("stack %s: %w", stack.Name, err)
		}
		// Only tasks of the Freight's images count: the tasks of the
		// version being replaced may still fail until the update reaches
		// them (a rollback replaces a crashing version).
		failed = slices.DeleteFunc(failed, func(f swarm.TaskFailure) bool { return !runsFreight(f.Image, s.freight) })
		if len(failed) > 0 {
			f := failed[len(failed)-1]
			return fmt.Sprintf("Stack %s: %d task failure(s) since the images were set; last: service %s task %s %s (exit %d): %s",
				stack.Name, len(failed), f.Service, f.TaskID, f.State, f.ExitCode, f.Message), nil
		}
	}
	return "", nil
}

// runsFreight tells whether an image reference is one of the Freight's
// images (by digest).
func runsFreight(image string, freight *kargov1.Freight) bool {
	for _, img := range freight.Spec.Images {
		if strings.HasSuffix(image, "@"+img.Digest) {
			return true
		}
	}
	return false
}

// waitReady waits, up to spec.verification.timeout, for every target
// Stack to be Ready for the generation that carries the Freight; a task
// failure or a rolled back update fails the Promotion at once.
func (r *PromotionReconciler) waitReady(ctx context.Context, s *promotionScope, step *kargov1.PromotionStep) (bool, time.Duration, error) {
	stacks, err := r.targetStacks(ctx, s)
	if err != nil || s.promotion.Status.Phase.Terminal() {
		return false, 0, err
	}
	failure, err := r.failures(ctx, s, stacks)
	if failure != "" {
		return false, 0, r.finish(ctx, s, kargov1.PromotionFailed, failure)
	}
	var waiting []string
	for _, stack := range stacks {
		if ready, why := stackReadyFor(stack, s.promotion.Status.StackGenerations[stack.Name]); !ready {
			waiting = append(waiting, why)
		}
	}
	if len(waiting) == 0 && err == nil {
		endStep(s.promotion, kargov1.PromotionSucceeded, "targets Ready")
		return true, 0, nil
	}
	timeout := durationOr(s.stage.Spec.Verification.Timeout, defaultVerifyTimeout)
	if time.Since(step.StartedAt.Time) >= timeout {
		if err != nil {
			waiting = append(waiting, err.Error())
		}
		return false, 0, r.finish(ctx, s, kargov1.PromotionFailed, fmt.Sprintf("targets not Ready within %s: %s", timeout, strings.Join(waiting, "; ")))
	}
	if err != nil {
		// The Swarm did not answer: the timeout still runs.
		return false, 0, err
	}
	s.promotion.Status.Message = "waiting for " + strings.Join(waiting, "; ")
	return false, promotionPoll, nil
}

// verify holds the targets Ready through the soak (no task failure, no
// rolled back update, Ready throughout), then runs the verification job
// when the Stage has one.
func (r *PromotionReconciler) verify(ctx context.Context, s *promotionScope, step *kargov1.PromotionStep) (bool, time.Duration, error) {
	stacks, err := r.targetStacks(ctx, s)
	if err != nil || s.promotion.Status.Phase.Terminal() {
		return false, 0, err
	}
	if failure, err := r.failures(ctx, s, stacks); err != nil || failure != "" {
		if err != nil {
			return false, 0, err
		}
		return false, 0, r.finish(ctx, s, kargov1.PromotionFailed, failure)
	}
	for _, stack := range stacks {
		if ready, why := stackReadyFor(stack, s.promotion.Status.StackGenerations[stack.Name]); !ready {
			return false, 0, r.finish(ctx, s, kargov1.PromotionFailed, "during verification: "+why)
		}
	}
	verification := s.stage.Spec.Verification
	soak := durationOr(verification.Soak, defaultSoak)
	if left := soak - time.Since(step.StartedAt.Time); left > 0 {
		s.promotion.Status.Message = fmt.Sprintf("soaking: %s left of %s", left.Round(time.Second), soak)
		return false, min(left, promotionPoll), nil
	}
	if verification.Job == nil {
		endStep(s.promotion, kargov1.PromotionSucceeded, fmt.Sprintf("Ready for %s, no task failed", soak))
		return true, 0, nil
	}
	return r.runJob(ctx, s, stacks[0], step.StartedAt.Add(soak))
}

// jobName is the Swarm service name of a Promotion's verification job:
// stable across reconciles, unique per Promotion.
func jobName(p *kargov1.Promotion) string {
	sum := sha256.Sum256([]byte(p.Namespace + "/" + p.Name + "/" + string(p.UID)))
	return verificationJobNamePrefix + hex.EncodeToString(sum[:6])
}

// runJob starts the verification job on the Swarm of the first target
// Stack, then follows it until it exits or its timeout passes.
func (r *PromotionReconciler) runJob(ctx context.Context, s *promotionScope, stack *kargov1.Stack, startedAt time.Time) (bool, time.Duration, error) {
	p, job := s.promotion, s.stage.Spec.Verification.Job
	_, engine, err := stackEngine(ctx, r.Client, r.Engines, stack)
	if err != nil {
		return false, 0, fmt.Errorf("stack %s: %w", stack.Name, err)
	}
	if p.Status.JobService == "" {
		spec, err := jobSpec(p, stack, job, r.Settings.ManagerID)
		if err != nil {
			return false, 0, r.finish(ctx, s, kargov1.PromotionErrored, err.Error())
		}
		if err := engine.StartJob(ctx, spec); err != nil {
			return false, 0, fmt.Errorf("start verification job: %w", err)
		}
		p.Status.JobService = spec.Name
		p.Status.Message = "verification job " + spec.Name + " started"
		r.Recorder.Eventf(p, "Normal", "JobStarted", "verification job %s started on the Swarm of Stack %s", spec.Name, stack.Name)
		return false, promotionPoll, nil
	}
	state, err := engine.JobState(ctx, p.Status.JobService)
	if err != nil {
		if swarm.IsNotFound(err) {
			return false, 0, r.finish(ctx, s, kargov1.PromotionFailed, fmt.Sprintf("verification job %s was removed before it ended", p.Status.JobService))
		}
		return false, 0, fmt.Errorf("verification job %s: %w", p.Status.JobService, err)
	}
	timeout := durationOr(job.Timeout, defaultJobTimeout)
	switch {
	case state.Done && state.Succeeded:
		endStep(p, kargov1.PromotionSucceeded, "verification job succeeded: "+swarm.TailText([]byte(state.Output), 5, swarm.JobOutputBytes))
		return true, 0, nil
	case state.Done:
		return false, 0, r.finish(ctx, s, kargov1.PromotionFailed, fmt.Sprintf("verification job exited %d: %s; output: %s", state.ExitCode, state.Message, state.Output))
	case time.Since(startedAt) >= timeout:
		return false, 0, r.finish(ctx, s, kargov1.PromotionFailed, fmt.Sprintf("verification job did not end within %s: %s", timeout, state.Message))
	}
	p.Status.Message = "verification job " + p.Status.JobService + " running"
	return false, promotionPoll, nil
}

// jobSpec is the Swarm job of a Stage's verification job, joined to the
// named networks of the Stack.
func jobSpec(p *kargov1.Promotion, stack *kargov1.Stack, job *kargov1.VerificationJob, managerID string) (swarm.JobSpec, error) {
	spec := swarm.JobSpec{
		Name: jobName(p), Image: job.Image, Command: job.Command, Args: job.Args,
		Labels: map[string]string{kargov1.PromotionLabel: p.Namespace + "/" + p.Name, kargov1.ManagerLabel: managerID},
	}
	for _, env := range job.Env {
		spec.Env = append(spec.Env, env.Name+"="+env.Value)
	}
	for _, name := range job.Networks {
		found := false
		for _, n := range stack.Spec.Networks {
			if n.Name == name {
				spec.Networks = append(spec.Networks, desired.NetworkName(desired.Namespace(stack), n))
				found = true
			}
		}
		if !found {
			return swarm.JobSpec{}, fmt.Errorf("spec.verification.job.networks: Stack %s declares no network %s", stack.Name, name)
		}
	}
	return spec, nil
}

// removeJob removes the Promotion's verification job, if it started one,
// from the Swarm of every Stack it set (the job runs on the first's; the
// Stage may be gone by now). A Swarm without it is fine.
func (r *PromotionReconciler) removeJob(ctx context.Context, s *promotionScope) error {
	p := s.promotion
	if p.Status.JobService == "" {
		return nil
	}
	for name := range p.Status.StackGenerations {
		stack := &kargov1.Stack{}
		if err := r.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: name}, stack); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return fmt.Errorf("get stack %s: %w", name, err)
		}
		_, engine, err := stackEngine(ctx, r.Client, r.Engines, stack)
		if apierrors.IsNotFound(err) {
			continue // its Environment is gone, and the Swarm with it for Kargo
		}
		if err != nil {
			return fmt.Errorf("remove verification job %s: %w", p.Status.JobService, err)
		}
		if err := engine.RemoveJob(ctx, p.Status.JobService); err != nil {
			return fmt.Errorf("remove verification job %s: %w", p.Status.JobService, err)
		}
	}
	return nil
}
