package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"
	dockerswarm "github.com/docker/docker/api/types/swarm"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// scalePart: Stacks of services at replicas 0 (no tasks: the manager is
// measured, not the Swarm). Kargo: `kubectl apply -f DIR` of one file per
// Stack, a resync of every Stack at once, the manager's RSS. docker: one
// `docker stack deploy` per compose file, one after the other, then all
// again (its resync).
func (b *bench) scalePart(ctx context.Context, t *table) error {
	stacks, per := b.cfg.scaleStacks, b.cfg.scaleServices
	total := stacks * per
	var kExist, kResync, dExist, dResync time.Duration
	var kChanged, dChanged int
	var kReq, dReq requests

	dir, err := b.scaleManifests(stacks, per)
	if err != nil {
		return err
	}
	apply, err := b.applyAlone(ctx, dir)
	if err != nil {
		return err
	}

	// Kargo.
	m, err := b.startManager(ctx, "scale")
	if err != nil {
		return err
	}
	k8sNS := "bench-scale-" + b.suffix
	cleanupNS, err := b.namespace(ctx, k8sNS)
	if err != nil {
		m.stop()
		return err
	}
	var kNamespaces []string
	for i := range stacks {
		kNamespaces = append(kNamespaces, fmt.Sprintf("bench-ks%02d-%s", i, b.suffix))
	}
	kargoErr := func() error {
		before, cpu0, api0 := mustMetrics(m), b.sampleCPU(m), b.apiServerMetrics(ctx)
		start := time.Now()
		if _, err := b.kubectl(ctx, "-n", k8sNS, "apply", "-f", dir); err != nil {
			return err
		}
		applied := time.Since(start)
		if kExist, err = b.waitExist(ctx, start, total, "bench-ks"); err != nil {
			return err
		}
		ready := b.waitStacksReady(ctx, k8sNS, start)
		rss, _ := m.memory()
		d := mustMetrics(m).minus(before)
		t.note("kargo scale %d×%d: kubectl apply returned %s, all exist %s, all Stacks Ready %s, RSS %.0f MiB; Stack reconciles %.0f (%.1f s in total); CPU %s",
			stacks, per, seconds(applied), seconds(kExist), seconds(ready), rss, d.sum("controller_runtime_reconcile_total", `controller="stack"`),
			d.sum("controller_runtime_reconcile_time_seconds_sum", `controller="stack"`), b.sampleCPU(m).since(cpu0))
		// kubectl apply's own requests are among them (a GET and a POST per
		// object, see "kubectl apply alone").
		t.note("kargo scale %d×%d: API server requests until all Stacks Ready: %s", stacks, per,
			b.apiServerMetrics(ctx).minus(api0).top("apiserver_request_total", 8, "verb", "resource", "subresource"))

		v0, err := b.versions(ctx, kNamespaces...)
		if err != nil {
			return err
		}
		before, req0 := mustMetrics(m), b.proxy.snapshot()
		start = time.Now()
		if err := b.resync(ctx, k8sNS); err != nil {
			return err
		}
		kResync = time.Since(start)
		time.Sleep(2 * time.Second) // reconciles that follow the handled one are counted too
		kReq = b.proxy.snapshot().minus(req0)
		v1, err := b.versions(ctx, kNamespaces...)
		if err != nil {
			return err
		}
		kChanged = changed(v0, v1)
		rss, peak := m.memory()
		t.count("scale: manager RSS now / peak (MiB)", fmt.Sprintf("%.0f / %.0f", rss, peak), "-")
		t.note("kargo resync of %d Stacks: %s, Stack reconciles %.0f; engine requests %s", stacks, seconds(kResync),
			mustMetrics(m).minus(before).sum("controller_runtime_reconcile_total", `controller="stack"`), kReq)
		return nil
	}()
	if _, err := b.kubectl(context.Background(), "-n", k8sNS, "delete", "-f", dir, "--timeout=10m"); err != nil {
		fmt.Println("cleanup:", err)
	}
	if err := b.waitGone(context.Background(), kNamespaces...); err != nil {
		fmt.Println("cleanup:", err)
	}
	cleanupNS()
	m.stop()
	if kargoErr != nil {
		return kargoErr
	}

	// docker stack deploy, one Stack after the other.
	var dNamespaces, files []string
	for i := range stacks {
		spec := stackSpec{namespace: fmt.Sprintf("bench-ds%02d-%s", i, b.suffix), n: per}
		file, err := b.write(fmt.Sprintf("scale/compose-%02d.yaml", i), spec.composeFile())
		if err != nil {
			return err
		}
		dNamespaces, files = append(dNamespaces, spec.namespace), append(files, file)
	}
	deployAll := func() error {
		for i, file := range files {
			if err := b.dockerCLI(ctx, "stack", "deploy", "--resolve-image", "never", "-c", file, dNamespaces[i]); err != nil {
				return err
			}
		}
		return nil
	}
	dockerErr := func() error {
		start := time.Now()
		if err := deployAll(); err != nil {
			return err
		}
		if dExist, err = b.waitExist(ctx, start, total, "bench-ds"); err != nil {
			return err
		}
		v0, err := b.versions(ctx, dNamespaces...)
		if err != nil {
			return err
		}
		req0 := b.proxy.snapshot()
		start = time.Now()
		if err := deployAll(); err != nil {
			return err
		}
		dResync = time.Since(start)
		dReq = b.proxy.snapshot().minus(req0)
		v1, err := b.versions(ctx, dNamespaces...)
		if err != nil {
			return err
		}
		dChanged = changed(v0, v1)
		return nil
	}()
	if err := b.dockerCLI(context.Background(), append([]string{"stack", "rm"}, dNamespaces...)...); err != nil {
		fmt.Println("cleanup:", err)
	}
	if err := b.waitGone(context.Background(), dNamespaces...); err != nil {
		fmt.Println("cleanup:", err)
	}
	if dockerErr != nil {
		return dockerErr
	}

	t.compare(fmt.Sprintf("scale %d services in %d Stacks, replicas 0: all exist", total, stacks), kExist, dExist)
	t.compare("scale: of which kubectl apply alone, no manager running", apply, dExist)
	t.compare(fmt.Sprintf("scale: full resync of %d Stacks (docker: deploy all again)", stacks), kResync, dResync)
	t.count("scale: services changed by the resync", fmt.Sprint(kChanged), fmt.Sprint(dChanged))
	t.count("scale: engine requests per Stack resync", fmt.Sprintf("%.1f", float64(kReq.total())/float64(stacks)), fmt.Sprintf("%.1f", float64(dReq.total())/float64(stacks)))
	t.note("scale resync, lists per kind for %d Stacks: kargo %s; docker %s", stacks, kReq.lists(), dReq.lists())
	return nil
}

// scaleManifests writes one file per Stack of the scale part, each a Stack
// and its services at replicas 0, and returns their directory.
func (b *bench) scaleManifests(stacks, per int) (string, error) {
	dir := filepath.Join(b.cfg.out, "manifests", "scale")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for i := range stacks {
		spec := stackSpec{name: fmt.Sprintf("k%02d", i), namespace: fmt.Sprintf("bench-ks%02d-%s", i, b.suffix), n: per, prefix: fmt.Sprintf("k%02d-", i)}
		if err := os.WriteFile(filepath.Join(dir, spec.name+".yaml"), []byte(spec.kargoManifest()), 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// applyAlone times kubectl apply of the manifests in a namespace no
// manager watches: what the API server alone takes, the lower bound of
// Kargo's time until all exist. Nothing reaches the Swarm.
func (b *bench) applyAlone(ctx context.Context, dir string) (time.Duration, error) {
	ns := "bench-apply-" + b.suffix
	if _, err := b.kubectl(ctx, "create", "namespace", ns); err != nil {
		return 0, err
	}
	// envtest runs no namespace controller: the objects are deleted
	// first (no manager put finalizers on them), then the namespace.
	defer func() {
		if _, err := b.kubectl(context.Background(), "-n", ns, "delete", "-f", dir, "--wait=false"); err != nil {
			fmt.Println("cleanup:", err)
		}
		if _, err := b.kubectl(context.Background(), "delete", "namespace", ns, "--wait=false"); err != nil {
			fmt.Println("cleanup:", err)
		}
	}()
	start := time.Now()
	if _, err := b.kubectl(ctx, "-n", ns, "apply", "-f", dir); err != nil {
		return 0, err
	}
	took := time.Since(start)
	progress("kubectl apply of %s alone: %s", dir, seconds(took))
	return took, nil
}

// waitExist waits until n services of stack namespaces starting with
// prefix exist, and returns the time since start.
func (b *bench) waitExist(ctx context.Context, start time.Time, n int, prefix string) (time.Duration, error) {
	err := poll(ctx, 20*time.Minute, 250*time.Millisecond, func() (bool, error) {
		list, err := b.docker.ServiceList(ctx, dockerswarm.ServiceListOptions{Filters: filters.NewArgs(filters.Arg("label", kargov1.StackNamespaceLabel))})
		if err != nil {
			return false, err
		}
		count := len(slices.DeleteFunc(list, func(s dockerswarm.Service) bool {
			return !strings.HasPrefix(s.Spec.Labels[kargov1.StackNamespaceLabel], prefix) || !strings.HasSuffix(s.Spec.Labels[kargov1.StackNamespaceLabel], b.suffix)
		}))
		return count >= n, nil
	})
	return time.Since(start), err
}
