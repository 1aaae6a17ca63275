package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	dockerswarm "github.com/docker/docker/api/types/swarm"
)

// driftPart changes the image of a Kargo service by hand (as `docker
// service update --image` does: inspect, update) and times until Kargo
// has put it back, several times; the Environment's periodic resync is
// 10 minutes, so the Docker events subscription does it. docker stack
// deploy has no counterpart: nothing undoes a manual change.
func (b *bench) driftPart(ctx context.Context, t *table) error {
	m, err := b.startManager(ctx, "drift")
	if err != nil {
		return err
	}
	defer m.stop()
	k8sNS := "bench-drift-" + b.suffix
	cleanupNS, err := b.namespace(ctx, k8sNS)
	if err != nil {
		return err
	}
	defer cleanupNS()
	spec := stackSpec{name: "k", namespace: "bench-kdrift-" + b.suffix, n: 1}
	file, err := b.write("kargo-drift.yaml", spec.kargoManifest())
	if err != nil {
		return err
	}
	defer func() {
		if _, err := b.kubectl(context.Background(), "-n", k8sNS, "delete", "-f", file, "--timeout=10m"); err != nil {
			fmt.Println("cleanup:", err)
		}
		if err := b.waitGone(context.Background(), spec.namespace); err != nil {
			fmt.Println("cleanup:", err)
		}
	}()
	if _, err := b.kubectl(ctx, "-n", k8sNS, "apply", "-f", file); err != nil {
		return err
	}
	b.waitStacksReady(ctx, k8sNS, time.Now())
	name := spec.namespace + "_" + serviceName(0)
	var took []time.Duration
	for range b.cfg.driftRounds {
		svc, _, err := b.docker.ServiceInspectWithRaw(ctx, name, dockerswarm.ServiceInspectOptions{})
		if err != nil {
			return err
		}
		svc.Spec.TaskTemplate.ContainerSpec.Image = "kargo.local/busybox:drift"
		start := time.Now()
		if _, err := b.docker.ServiceUpdate(ctx, svc.ID, svc.Version, svc.Spec, dockerswarm.ServiceUpdateOptions{}); err != nil {
			return fmt.Errorf("manual update of %s: %w", name, err)
		}
		err = poll(ctx, time.Minute, 5*time.Millisecond, func() (bool, error) {
			live, _, err := b.docker.ServiceInspectWithRaw(ctx, name, dockerswarm.ServiceInspectOptions{})
			return err == nil && live.Spec.TaskTemplate.ContainerSpec.Image == image, err
		})
		if err != nil {
			return fmt.Errorf("manual image change of %s not undone: %w", name, err)
		}
		took = append(took, time.Since(start))
		time.Sleep(500 * time.Millisecond)
	}
	slices.Sort(took)
	median := (took[(len(took)-1)/2] + took[len(took)/2]) / 2
	t.count(fmt.Sprintf("drift: manual image change undone, median of %d", len(took)), seconds(median), "never")
	t.note("drift: undone in %v", took)
	return nil
}
