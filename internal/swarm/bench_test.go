package swarm_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	dockerswarm "github.com/docker/docker/api/types/swarm"
	dockerclient "github.com/docker/docker/client"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/swarm"
	"github.com/kargo-io/kargo/internal/testenv"
)

// benchSpec is fullService converted for a Stack namespace, without what
// needs other objects (networks, configs, secrets, a Secret-sourced env
// value) or a host port, and with no replicas: it starts no container on the
// shared Swarm.
func benchSpec(b *testing.B, ns string) dockerswarm.ServiceSpec {
	b.Helper()
	svc := fullService("web")
	svc.Spec.Networks, svc.Spec.Configs, svc.Spec.Secrets, svc.Spec.Ports = nil, nil, nil, nil
	svc.Spec.Env = slices.DeleteFunc(svc.Spec.Env, func(e kargov1.EnvVar) bool { return e.ValueFrom != nil })
	svc.Spec.Replicas = ptr.To[int64](0)
	spec, err := swarm.ServiceSpec(svc, swarm.StackObjects{Namespace: ns, Owner: "default/" + ns})
	if err != nil {
		b.Fatal(err)
	}
	return spec
}

// BenchmarkApplyServiceNoop applies an unchanged service (inspect,
// normalize both specs, diff, no write) and, alternating in the same loop,
// inspects the same service with a bare Docker client. x-inspect is how many
// times longer the no-op apply takes than the bare inspect (median of the
// per-pair ratios). It fails if the no-op apply wrote anything.
func BenchmarkApplyServiceNoop(b *testing.B) {
	ctx := context.Background()
	c := connect(b)
	host, _ := testenv.DockerHost()
	bare, err := dockerclient.NewClientWithOpts(dockerclient.WithHost(host), dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		b.Fatal(err)
	}
	ns := "bench-" + utilrand.String(5)
	owner := "default/" + ns
	spec := benchSpec(b, ns)
	hash := swarm.SpecHash(spec, nil, nil)
	res, err := c.ApplyService(ctx, spec, hash, owner, true, nil)
	if err != nil || res.Change != swarm.Created {
		b.Fatalf("first apply: %q, %v; want created", res.Change, err)
	}
	b.Cleanup(func() {
		if err := bare.ServiceRemove(ctx, res.ID); err != nil {
			b.Errorf("remove bench service %s: %v", spec.Name, err)
		}
	})
	if res, err := c.ApplyService(ctx, spec, hash, owner, true, nil); err != nil || res.Change != swarm.Unchanged {
		b.Fatalf("second apply: %q (drift %v), %v; want unchanged", res.Change, res.Drift, err)
	}

	var p testenv.Pairs
	writes := c.Writes()
	for i := 0; b.Loop(); i++ {
		p.Run(i, func() {
			res, err := c.ApplyService(ctx, spec, hash, owner, true, nil)
			if err != nil || res.Change != swarm.Unchanged {
				b.Fatalf("no-op apply: %q (drift %v), %v", res.Change, res.Drift, err)
			}
		}, func() {
			if _, _, err := bare.ServiceInspectWithRaw(ctx, spec.Name, dockerswarm.ServiceInspectOptions{}); err != nil {
				b.Fatal(err)
			}
		})
	}
	if n := c.Writes() - writes; n != 0 {
		b.Fatalf("%d write requests during %d no-op applies, want 0", n, b.N)
	}
	p.Report(b, "apply", "inspect")
}

// BenchmarkSpecHash hashes the normal form of a service spec (SpecHash) and,
// alternating in the same loop, marshals the same spec to JSON (x-marshal).
// Pure: no Swarm.
func BenchmarkSpecHash(b *testing.B) {
	spec := benchSpec(b, "geo")
	if swarm.SpecHash(spec, nil, nil) != swarm.SpecHash(spec, nil, nil) {
		b.Fatal("SpecHash is not deterministic")
	}
	var p testenv.Pairs
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.Run(i, func() { _ = swarm.SpecHash(spec, nil, nil) }, func() {
			if _, err := json.Marshal(spec); err != nil {
				b.Fatal(err)
			}
		})
	}
	p.Report(b, "hash", "marshal")
}
