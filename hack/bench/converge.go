package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

const updateEnv = "BENCH_UPDATE=1"

// side is what one tool did in the converge part.
type side struct {
	converge     timing
	noop, update change
}

// change is what re-applying did: how long it took, how many services'
// Swarm versions it changed, the engine requests it made.
type change struct {
	took     time.Duration
	changed  int
	requests requests
}

// convergePart deploys n one-replica services with each tool, then
// re-applies the same (no-op) and changes one service, each until the
// Swarm settles. kargoFirst alternates the order between sizes.
func (b *bench) convergePart(ctx context.Context, t *table, n int, kargoFirst bool) error {
	var k, d side
	progress("converge %d: start", n)
	runKargo := func() (err error) { k, err = b.kargoConverge(ctx, t, n); return err }
	runDocker := func() (err error) { d, err = b.dockerConverge(ctx, t, n); return err }
	first, second := runDocker, runKargo
	if kargoFirst {
		first, second = runKargo, runDocker
	}
	if err := first(); err != nil {
		return err
	}
	if err := second(); err != nil {
		return err
	}
	t.compare(fmt.Sprintf("converge %d: apply → all tasks running", n), k.converge.running, d.converge.running)
	t.compare(fmt.Sprintf("converge %d: apply → all services exist", n), k.converge.exist, d.converge.exist)
	t.count(fmt.Sprintf("no-op re-apply of %d: services changed", n), fmt.Sprint(k.noop.changed), fmt.Sprint(d.noop.changed))
	t.count(fmt.Sprintf("no-op re-apply of %d: engine writes", n), fmt.Sprint(k.noop.requests.writes()), fmt.Sprint(d.noop.requests.writes()))
	t.count(fmt.Sprintf("no-op re-apply of %d: engine requests", n), fmt.Sprint(k.noop.requests.total()), fmt.Sprint(d.noop.requests.total()))
	t.count(fmt.Sprintf("update one of %d: services changed", n), fmt.Sprint(k.update.changed), fmt.Sprint(d.update.changed))
	t.compare(fmt.Sprintf("update one of %d: apply → its new task running", n), k.update.took, d.update.took)
	t.note("no-op re-apply of %d, lists per kind: kargo %s; docker %s", n, k.noop.requests.lists(), d.noop.requests.lists())
	return nil
}

// kargoConverge: kubectl apply of a Stack and n Services, until all tasks
// run; a resync requested by annotation (no-op); one Service changed.
func (b *bench) kargoConverge(ctx context.Context, t *table, n int) (side, error) {
	var res side
	label := fmt.Sprintf("converge-%d", n)
	m, err := b.startManager(ctx, label)
	if err != nil {
		return res, err
	}
	defer m.stop()
	k8sNS := fmt.Sprintf("bench-%d-%s", n, b.suffix)
	cleanupNS, err := b.namespace(ctx, k8sNS)
	if err != nil {
		return res, err
	}
	defer cleanupNS()
	spec := stackSpec{name: "k", namespace: fmt.Sprintf("bench-k%d-%s", n, b.suffix), n: n, replicas: 1}
	file, err := b.write(fmt.Sprintf("kargo-%d.yaml", n), spec.kargoManifest())
	if err != nil {
		return res, err
	}
	defer func() {
		if _, err := b.kubectl(context.Background(), "-n", k8sNS, "delete", "-f", file, "--timeout=10m"); err != nil {
			fmt.Println("cleanup:", err)
		}
		if err := b.waitGone(context.Background(), spec.namespace); err != nil {
			fmt.Println("cleanup:", err)
		}
	}()

	// Converge, with a CPU profile of the manager meanwhile.
	before, cpu0, req0 := mustMetrics(m), b.sampleCPU(m), b.proxy.snapshot()
	profiled := make(chan error, 1)
	if b.cfg.profileSecs > 0 {
		go func() { profiled <- m.profile(b.cfg.profileSecs, filepath.Join(b.cfg.out, "cpu-"+label+".pprof")) }()
	} else {
		profiled <- nil
	}
	start := time.Now()
	if _, err := b.kubectl(ctx, "-n", k8sNS, "apply", "-f", file); err != nil {
		return res, err
	}
	applied := time.Since(start)
	if res.converge, err = b.waitConverged(ctx, start, n, false, spec.namespace); err != nil {
		return res, fmt.Errorf("kargo converge %d: %w", n, err)
	}
	ready := b.waitStacksReady(ctx, k8sNS, start)
	after, cpu1, req1 := mustMetrics(m), b.sampleCPU(m), b.proxy.snapshot()
	d := after.minus(before)
	t.note("kargo converge %d: kubectl apply returned %s, all services exist %s, all tasks running %s, Stack Ready %s; Stack reconciles %.0f (%.1f s in total), Service reconciles %.0f; engine requests %s; CPU %s",
		n, seconds(applied), seconds(res.converge.exist), seconds(res.converge.running), seconds(ready), d.sum("controller_runtime_reconcile_total", `controller="stack"`),
		d.sum("controller_runtime_reconcile_time_seconds_sum", `controller="stack"`), d.sum("controller_runtime_reconcile_total", `controller="service"`),
		req1.minus(req0), cpu1.since(cpu0))
	if err := <-profiled; err != nil {
		t.note("kargo converge %d: no CPU profile: %v", n, err)
	}

	// No-op: a resync requested by annotation.
	before = mustMetrics(m)
	if res.noop, err = b.reapply(ctx, n, spec.namespace, false, func() error { return b.resync(ctx, k8sNS) }); err != nil {
		return res, err
	}
	t.note("kargo no-op resync of %d: done in %s, Stack reconciles %.0f; engine requests %s", n, seconds(res.noop.took),
		mustMetrics(m).minus(before).sum("controller_runtime_reconcile_total", `controller="stack"`), res.noop.requests)

	// Update one: the first Service gets a variable.
	spec.env = updateEnv
	if file, err = b.write(fmt.Sprintf("kargo-%d.yaml", n), spec.kargoManifest()); err != nil {
		return res, err
	}
	res.update, err = b.reapply(ctx, n, spec.namespace, true, func() error {
		_, err := b.kubectl(ctx, "-n", k8sNS, "apply", "-f", file)
		return err
	})
	return res, err
}

// reapply runs apply once the services of a stack namespace have settled
// and waits until they settle again; with updated, first until the first
// service runs a task with updateEnv. It returns how long apply (and the
// wait for the updated task) took, the services whose Swarm version
// changed and the engine requests meanwhile.
func (b *bench) reapply(ctx context.Context, n int, namespace string, updated bool, apply func() error) (change, error) {
	v0, err := b.settle(ctx, n, namespace)
	if err != nil {
		return change{}, err
	}
	req0 := b.proxy.snapshot()
	start := time.Now()
	if err := apply(); err != nil {
		return change{}, err
	}
	if updated {
		if err := b.waitTaskEnv(ctx, namespace+"_"+serviceName(0), updateEnv); err != nil {
			return change{}, err
		}
	}
	took := time.Since(start)
	v1, err := b.settle(ctx, n, namespace)
	if err != nil {
		return change{}, err
	}
	return change{took: took, changed: changed(v0, v1), requests: b.proxy.snapshot().minus(req0)}, nil
}

// waitStacksReady waits until every Stack of the namespace is Ready and
// returns the time since start.
func (b *bench) waitStacksReady(ctx context.Context, namespace string, start time.Time) time.Duration {
	_ = poll(ctx, 10*time.Minute, pollPeriod, func() (bool, error) {
		var stacks kargov1.StackList
		if err := b.k8s.List(ctx, &stacks, client.InNamespace(namespace)); err != nil {
			return false, err
		}
		for _, s := range stacks.Items {
			if !meta.IsStatusConditionTrue(s.Status.Conditions, kargov1.ReadyCondition) {
				return false, nil
			}
		}
		return true, nil
	})
	return time.Since(start)
}

// resync asks every Stack of the namespace for a reconcile (the
// reconcile-requested-at annotation) and waits until each handled it.
func (b *bench) resync(ctx context.Context, namespace string) error {
	value := time.Now().Format(time.RFC3339Nano)
	if _, err := b.kubectl(ctx, "-n", namespace, "annotate", "stacks", "--all", "--overwrite", "swarm.kargo.io/reconcile-requested-at="+value); err != nil {
		return err
	}
	return poll(ctx, 10*time.Minute, 50*time.Millisecond, func() (bool, error) {
		var stacks kargov1.StackList
		if err := b.k8s.List(ctx, &stacks, client.InNamespace(namespace)); err != nil {
			return false, err
		}
		for _, s := range stacks.Items {
			if s.Status.LastHandledReconcileAt != value {
				return false, nil
			}
		}
		return true, nil
	})
}

// dockerConverge: docker stack deploy of the compose file, until all tasks
// run; the same deploy again (no-op); one service changed.
func (b *bench) dockerConverge(ctx context.Context, t *table, n int) (side, error) {
	var res side
	spec := stackSpec{namespace: fmt.Sprintf("bench-d%d-%s", n, b.suffix), n: n, replicas: 1}
	file, err := b.write(fmt.Sprintf("compose-%d.yaml", n), spec.composeFile())
	if err != nil {
		return res, err
	}
	defer func() {
		if err := b.dockerCLI(context.Background(), "stack", "rm", spec.namespace); err != nil {
			fmt.Println("cleanup:", err)
		}
		if err := b.waitGone(context.Background(), spec.namespace); err != nil {
			fmt.Println("cleanup:", err)
		}
	}()
	deploy := func() error {
		return b.dockerCLI(ctx, "stack", "deploy", "--resolve-image", "never", "-c", file, spec.namespace)
	}
	cpu0, req0 := b.sampleCPU(nil), b.proxy.snapshot()
	start := time.Now()
	if err := deploy(); err != nil {
		return res, err
	}
	if res.converge, err = b.waitConverged(ctx, start, n, false, spec.namespace); err != nil {
		return res, fmt.Errorf("docker converge %d: %w", n, err)
	}
	t.note("docker converge %d: all tasks running %s; engine requests %s; CPU %s", n, seconds(res.converge.running), b.proxy.snapshot().minus(req0), b.sampleCPU(nil).since(cpu0))

	if res.noop, err = b.reapply(ctx, n, spec.namespace, false, deploy); err != nil {
		return res, err
	}
	spec.env = updateEnv
	if file, err = b.write(fmt.Sprintf("compose-%d.yaml", n), spec.composeFile()); err != nil {
		return res, err
	}
	res.update, err = b.reapply(ctx, n, spec.namespace, true, deploy)
	return res, err
}

func mustMetrics(m *manager) metrics {
	ms, err := m.metrics()
	if err != nil {
		fmt.Println("metrics:", err)
	}
	return ms
}
