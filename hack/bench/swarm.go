package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	dockerswarm "github.com/docker/docker/api/types/swarm"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// The bench reads the Swarm directly (not through the engine proxy), the
// same way for both tools: services by their stack namespace label, which
// docker stack deploy and Kargo both set.
const (
	image      = "kargo.local/busybox:1"
	pollPeriod = 100 * time.Millisecond
)

func nsFilter(namespaces ...string) filters.Args {
	args := filters.NewArgs()
	for _, ns := range namespaces {
		args.Add("label", kargov1.StackNamespaceLabel+"="+ns)
	}
	return args
}

// services lists the services of stack namespaces with their task counts.
// A filter on several values of one label matches none, so each namespace
// is listed on its own.
func (b *bench) services(ctx context.Context, namespaces ...string) ([]dockerswarm.Service, error) {
	var all []dockerswarm.Service
	for _, ns := range namespaces {
		list, err := b.docker.ServiceList(ctx, dockerswarm.ServiceListOptions{Filters: nsFilter(ns), Status: true})
		if err != nil {
			return nil, err
		}
		all = append(all, list...)
	}
	return all, nil
}

// converged tells whether the namespaces hold n services, each with all
// its desired tasks running.
func (b *bench) converged(ctx context.Context, n int, namespaces ...string) (exist, running bool, err error) {
	list, err := b.services(ctx, namespaces...)
	if err != nil {
		return false, false, err
	}
	if len(list) < n {
		return false, false, nil
	}
	for _, s := range list {
		if s.ServiceStatus == nil || s.ServiceStatus.RunningTasks != s.ServiceStatus.DesiredTasks {
			return true, false, nil
		}
	}
	return true, true, nil
}

// timing is when, after a start, all services existed and all their tasks ran.
type timing struct {
	exist, running time.Duration
}

// waitConverged polls until the namespaces hold n services with all their
// tasks running (until they exist only, when exist is enough).
func (b *bench) waitConverged(ctx context.Context, start time.Time, n int, existOnly bool, namespaces ...string) (timing, error) {
	var t timing
	err := poll(ctx, 20*time.Minute, pollPeriod, func() (bool, error) {
		exist, running, err := b.converged(ctx, n, namespaces...)
		if exist && t.exist == 0 {
			t.exist = time.Since(start)
		}
		if running && t.running == 0 {
			t.running = time.Since(start)
		}
		return (existOnly && exist) || running, err
	})
	return t, err
}

// versions returns each service's Swarm version.
func (b *bench) versions(ctx context.Context, namespaces ...string) (map[string]uint64, error) {
	list, err := b.services(ctx, namespaces...)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, s := range list {
		out[s.Spec.Name] = s.Version.Index
	}
	return out, nil
}

// settle waits until every task runs and no service's version changed for
// a second, and returns the versions.
func (b *bench) settle(ctx context.Context, n int, namespaces ...string) (map[string]uint64, error) {
	var last map[string]uint64
	stableSince := time.Now()
	err := poll(ctx, 10*time.Minute, 250*time.Millisecond, func() (bool, error) {
		_, running, err := b.converged(ctx, n, namespaces...)
		if err != nil {
			return false, err
		}
		v, err := b.versions(ctx, namespaces...)
		if err != nil {
			return false, err
		}
		if !running || !equalVersions(v, last) {
			last, stableSince = v, time.Now()
			return false, nil
		}
		return time.Since(stableSince) >= time.Second, nil
	})
	return last, err
}

func equalVersions(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// changed counts the services whose version differs between two snapshots.
func changed(before, after map[string]uint64) int {
	n := 0
	for name, v := range after {
		if before[name] != v {
			n++
		}
	}
	return n
}

// waitTaskEnv waits until the service runs a task whose spec has env.
func (b *bench) waitTaskEnv(ctx context.Context, service, env string) error {
	return poll(ctx, 10*time.Minute, pollPeriod, func() (bool, error) {
		tasks, err := b.docker.TaskList(ctx, dockerswarm.TaskListOptions{Filters: filters.NewArgs(
			filters.Arg("service", service), filters.Arg("desired-state", "running"))})
		if err != nil {
			return false, client404(err)
		}
		for _, t := range tasks {
			if t.Status.State == dockerswarm.TaskStateRunning && t.Spec.ContainerSpec != nil && slices.Contains(t.Spec.ContainerSpec.Env, env) {
				return true, nil
			}
		}
		return false, nil
	})
}

// client404 ignores a not-found answer (the service is not created yet).
func client404(err error) error {
	if err != nil && strings.Contains(strings.ToLower(err.Error()), "not found") {
		return nil
	}
	return err
}

// waitGone waits until nothing of the stack namespaces is left on the
// Swarm: services, running containers, networks. Networks left once the
// containers are gone (docker stack rm does not wait for them) are removed.
func (b *bench) waitGone(ctx context.Context, namespaces ...string) error {
	defer progress("removed %d stack namespace(s)", len(namespaces))
	for _, ns := range namespaces {
		err := poll(ctx, 10*time.Minute, 250*time.Millisecond, func() (bool, error) {
			services, err := b.services(ctx, ns)
			if err != nil || len(services) > 0 {
				return false, err
			}
			containers, err := b.docker.ContainerList(ctx, container.ListOptions{Filters: nsFilter(ns)})
			if err != nil || len(containers) > 0 {
				return false, err
			}
			nets, err := b.docker.NetworkList(ctx, network.ListOptions{Filters: nsFilter(ns)})
			if err != nil {
				return false, err
			}
			for _, n := range nets {
				_ = b.docker.NetworkRemove(ctx, n.ID)
			}
			return len(nets) == 0, nil
		})
		if err != nil {
			return fmt.Errorf("stack namespace %s not gone: %w", ns, err)
		}
	}
	return nil
}
