// Command bench measures Kargo against `docker stack deploy --resolve-image
// never` on the local Swarm, side by side in one run, and prints a table
// of ratios and counts (issue 11 §2). It starts a kube-apiserver (envtest)
// and the kargo manager as its own process (so that its RSS and CPU are its
// own), then for each part runs both tools one after the other on the same
// Swarm, each cleaned up before the next:
//
//   - converge N one-replica services on one overlay network: `kubectl
//     apply` of a Stack and N Services vs `docker stack deploy` of the
//     equivalent compose file, each until all tasks run; then on the same
//     services a no-op resync and an update of one service;
//   - scale: Stacks of services at replicas 0 (no tasks: the manager is
//     measured, not the Swarm), a full resync of them all, manager RSS;
//   - drift: a manual image change undone, median of several;
//   - secrets: the manager's memory with and without 2,000 Secrets of 10
//     KiB that have nothing to do with Kargo (Kargo alone).
//
// Besides the table it writes, under -out, the manager's logs and CPU
// profiles and, per run, where the time went (engine requests by
// operation, reconciles, CPU seconds of each process).
//
// Run it with `make bench`, or on its own:
//
//	KUBEBUILDER_ASSETS=$(hack/envtest-assets.sh) DOCKER_HOST=$(hack/swarm.sh host) \
//	  go run ./hack/bench -parts converge -sizes 50
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	parts         map[string]bool
	sizes         []int
	scaleStacks   int
	scaleServices int
	driftRounds   int
	kargoBin      string
	managerFlags  []string
	out           string
	profileSecs   int
	dockerCLI     string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	var parts, sizes, managerFlags string
	cfg := config{}
	flag.StringVar(&parts, "parts", "converge,scale,drift,secrets", "parts to run: converge (with no-op and update-one), scale, drift, secrets; apply (kubectl apply of the scale part's manifests alone: no Swarm)")
	flag.StringVar(&sizes, "sizes", "50,200", "service counts of the converge part")
	flag.IntVar(&cfg.scaleStacks, "scale-stacks", 20, "Stacks of the scale part")
	flag.IntVar(&cfg.scaleServices, "scale-services", 50, "services per Stack of the scale part")
	flag.IntVar(&cfg.driftRounds, "drift-rounds", 10, "manual changes undone in the drift part (median)")
	flag.StringVar(&cfg.kargoBin, "kargo", "", "kargo binary to run as the manager (default: built from this checkout)")
	flag.StringVar(&managerFlags, "manager-flags", "", "extra flags of kargo manager, space separated")
	flag.StringVar(&cfg.out, "out", "bin/bench", "directory of logs, profiles and the table")
	flag.IntVar(&cfg.profileSecs, "profile-seconds", 30, "CPU profile of the manager over the first seconds of each Kargo converge (0: none)")
	flag.StringVar(&cfg.dockerCLI, "docker", "docker", "docker CLI (28.x) whose stack deploy is the peer")
	flag.Parse()
	cfg.parts = map[string]bool{}
	for _, p := range strings.Split(parts, ",") {
		if p = strings.TrimSpace(p); p != "" {
			cfg.parts[p] = true
		}
	}
	for _, s := range strings.Split(sizes, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return fmt.Errorf("-sizes: %q is not a positive number", s)
		}
		cfg.sizes = append(cfg.sizes, n)
	}
	cfg.managerFlags = strings.Fields(managerFlags)
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}
	if cfg.kargoBin == "" {
		cfg.kargoBin = filepath.Join(cfg.out, "kargo")
		build := exec.Command("go", "build", "-o", cfg.kargoBin, ".")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build kargo: %w", err)
		}
	}

	// Interrupted, the parts stop waiting and remove what they made.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := newBench(ctx, cfg)
	if err != nil {
		return err
	}
	defer b.close()
	t := &table{}
	t.title = fmt.Sprintf("Kargo vs docker stack deploy --resolve-image never, same Swarm, one run (%s, %d cores, %s, manager flags %q)",
		time.Now().Format("2006-01-02 15:04"), runtime.NumCPU(), b.engineVersion, strings.Join(cfg.managerFlags, " "))
	if cfg.parts["converge"] {
		for i, n := range cfg.sizes {
			if err := b.convergePart(ctx, t, n, i%2 == 1); err != nil {
				return err
			}
		}
	}
	if cfg.parts["apply"] {
		dir, err := b.scaleManifests(cfg.scaleStacks, cfg.scaleServices)
		if err != nil {
			return err
		}
		took, err := b.applyAlone(ctx, dir)
		if err != nil {
			return err
		}
		t.count(fmt.Sprintf("kubectl apply alone of %d Stacks of %d Services, no manager", cfg.scaleStacks, cfg.scaleServices), seconds(took), "-")
	}
	if cfg.parts["scale"] {
		if err := b.scalePart(ctx, t); err != nil {
			return err
		}
	}
	if cfg.parts["drift"] {
		if err := b.driftPart(ctx, t); err != nil {
			return err
		}
	}
	if cfg.parts["secrets"] {
		if err := b.secretsPart(ctx, t); err != nil {
			return err
		}
	}
	text := t.String()
	fmt.Print(text)
	return os.WriteFile(filepath.Join(cfg.out, "table.txt"), []byte(text), 0o644)
}
