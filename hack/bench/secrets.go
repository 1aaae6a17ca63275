package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// secretsPart measures what Secrets unrelated to Kargo cost the manager
// (issue 12 §4): its memory once its caches have synced, with none and
// then with unrelatedSecrets Secrets of unrelatedSecretSize bytes in
// another namespace, a fresh manager process each time. Both times a Stack
// with a secret and a service is Ready (so the manager has read a Secret's
// value); docker stack deploy has no counterpart.
func (b *bench) secretsPart(ctx context.Context, t *table) error {
	const (
		unrelatedSecrets    = 2000
		unrelatedSecretSize = 10 << 10
	)
	k8sNS, otherNS := "bench-secrets-"+b.suffix, "bench-unrelated-"+b.suffix
	file, err := b.write("kargo-secrets.yaml", fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {password: bench}
---
apiVersion: swarm.kargo.io/v1alpha1
kind: Stack
metadata: {name: k}
spec:
  environmentRef: {name: local}
  namespace: bench-ksecrets-%s
  secrets: [{name: db-password, secretKeyRef: {name: db, key: password}}]
---
apiVersion: swarm.kargo.io/v1alpha1
kind: Service
metadata: {name: app}
spec:
  stackRef: {name: k}
  image: %s
  command: [sleep, "3600"]
  replicas: 0
  secrets: [{name: db-password}]
`, b.suffix, image))
	if err != nil {
		return err
	}
	// stackReady requests a reconcile of the Stack and waits until the
	// manager has handled it with the Stack Ready: its caches have
	// synced (workers start after) and it has read the Secret.
	stackReady := func(label string) error {
		if err := b.requestReconcile(ctx, k8sNS, "k", label); err != nil {
			return err
		}
		err := poll(ctx, 2*time.Minute, 100*time.Millisecond, func() (bool, error) {
			stack := &kargov1.Stack{}
			if err := b.k8s.Get(ctx, client.ObjectKey{Namespace: k8sNS, Name: "k"}, stack); err != nil {
				return false, err
			}
			return meta.IsStatusConditionTrue(stack.Status.Conditions, kargov1.ReadyCondition) &&
				stack.Status.LastHandledReconcileAt == label, nil
		})
		if err != nil {
			return fmt.Errorf("stack %s/k not Ready: %w", k8sNS, err)
		}
		return nil
	}
	// Set up with one manager, then measure a fresh one per case, started
	// on what exists.
	m, err := b.startManager(ctx, "secrets-setup")
	if err != nil {
		return err
	}
	cleanupNS, err := b.namespace(ctx, k8sNS)
	if err == nil {
		if _, err = b.kubectl(ctx, "-n", k8sNS, "apply", "-f", file); err == nil {
			err = stackReady("setup")
		}
	}
	var before, after memory
	if err == nil {
		m.stop()
		before, m, err = b.measureManager(ctx, "secrets-0", stackReady)
	}
	if err == nil {
		err = b.createSecrets(ctx, otherNS, unrelatedSecrets, unrelatedSecretSize)
	}
	if err == nil {
		m.stop()
		after, m, err = b.measureManager(ctx, "secrets-2000", stackReady)
	}
	// The Stack's finalizer needs a manager: one runs until the cleanup is done.
	if m == nil {
		m, _ = b.startManager(context.Background(), "secrets-cleanup")
	}
	if m != nil {
		if _, err := b.kubectl(context.Background(), "-n", k8sNS, "delete", "-f", file, "--timeout=5m"); err != nil {
			fmt.Println("cleanup:", err)
		}
		if cleanupNS != nil {
			cleanupNS()
		}
		m.stop()
	}
	// envtest runs no namespace controller: the Secrets go first.
	_ = b.k8s.DeleteAllOf(context.Background(), &corev1.Secret{}, client.InNamespace(otherNS))
	_ = b.k8s.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: otherNS}})
	if err != nil {
		return err
	}
	what := fmt.Sprintf("secrets: manager %%s, 0 / %d unrelated %d KiB Secrets (MiB)", unrelatedSecrets, unrelatedSecretSize>>10)
	t.count(fmt.Sprintf(what, "RSS"), fmt.Sprintf("%.0f / %.0f", before.rss, after.rss), "-")
	t.count(fmt.Sprintf(what, "peak RSS"), fmt.Sprintf("%.0f / %.0f", before.peak, after.peak), "-")
	t.count(fmt.Sprintf(what, "Go heap after GC"), fmt.Sprintf("%.0f / %.0f", before.heap, after.heap), "-")
	return nil
}

// measureManager starts a manager, waits until ready says it works, and
// returns its settled memory and the manager, still running (nil on error).
func (b *bench) measureManager(ctx context.Context, label string, ready func(label string) error) (memory, *manager, error) {
	m, err := b.startManager(ctx, label)
	if err != nil {
		return memory{}, nil, err
	}
	mem, err := func() (memory, error) {
		if err := ready(label); err != nil {
			return memory{}, err
		}
		return m.settledMemory()
	}()
	if err != nil {
		m.stop()
		return memory{}, nil, err
	}
	progress("%s: manager RSS %.0f MiB, peak %.0f MiB, heap in use %.0f MiB", label, mem.rss, mem.peak, mem.heap)
	return mem, m, nil
}

// createSecrets creates a namespace holding n Secrets of size random bytes.
func (b *bench) createSecrets(ctx context.Context, namespace string, n, size int) error {
	if err := b.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return err
	}
	start := time.Now()
	data := make([]byte, size)
	for i := range n {
		_, _ = rand.Read(data)
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("unrelated-%04d", i), Namespace: namespace}, Data: map[string][]byte{"data": data}}
		if err := b.k8s.Create(ctx, secret); err != nil {
			return err
		}
	}
	progress("%d Secrets of %d KiB created in %s", n, size>>10, seconds(time.Since(start)))
	return nil
}

// requestReconcile sets the reconcile-requested-at annotation of a Stack.
func (b *bench) requestReconcile(ctx context.Context, namespace, name, value string) error {
	stack := &kargov1.Stack{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, kargov1.ReconcileRequestAnnotation, value)
	return b.k8s.Patch(ctx, stack, client.RawPatch("application/merge-patch+json", []byte(patch)))
}

// memory is a manager's resident set now and at its peak, and its Go heap
// in use after a garbage collection, in MiB.
type memory struct{ rss, peak, heap float64 }

// settledMemory collects the manager's garbage (the pprof heap endpoint
// with gc=1), then reads its memory.
func (m *manager) settledMemory() (memory, error) {
	resp, err := http.Get(m.pprofURL + "/heap?gc=1")
	if err != nil {
		return memory{}, err
	}
	resp.Body.Close()
	ms, err := m.metrics()
	if err != nil {
		return memory{}, err
	}
	var mem memory
	mem.rss, mem.peak = m.memory()
	mem.heap = ms.sum("go_memstats_heap_inuse_bytes") / (1 << 20)
	return mem, nil
}
