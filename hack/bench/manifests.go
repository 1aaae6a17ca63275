package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// stackSpec is what both tools deploy: n busybox services running sleep
// on one overlay network "back", with a 1 s stop grace period (sleep as
// PID 1 ignores SIGTERM) and replicas tasks each.
type stackSpec struct {
	// name is the Stack's name (Kargo) and prefix of its Service objects.
	name string
	// namespace is the Swarm stack namespace.
	namespace string
	n         int
	replicas  int
	// env, when set, is one variable (NAME=value) of the first service.
	env string
	// prefix starts the names of the Service objects (several Stacks in
	// one Kubernetes namespace); the Swarm names them <namespace>_<object>.
	prefix string
}

func serviceName(i int) string { return fmt.Sprintf("s%03d", i) }

// kargoManifest is one file holding the Stack and its Services, as a user
// applies it.
func (s stackSpec) kargoManifest() string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: swarm.kargo.io/v1alpha1
kind: Stack
metadata: {name: %s}
spec:
  environmentRef: {name: local}
  namespace: %s
  networks: [{name: back}]
`, s.name, s.namespace)
	for i := range s.n {
		fmt.Fprintf(&b, `---
apiVersion: swarm.kargo.io/v1alpha1
kind: Service
metadata: {name: %s%s}
spec:
  stackRef: {name: %s}
  image: %s
  command: [sleep, "3600"]
  replicas: %d
  networks: [{name: back}]
  stopGracePeriod: 1s
`, s.prefix, serviceName(i), s.name, image, s.replicas)
		if i == 0 && s.env != "" {
			name, value, _ := strings.Cut(s.env, "=")
			fmt.Fprintf(&b, "  env: [{name: %s, value: %q}]\n", name, value)
		}
	}
	return b.String()
}

// composeFile is the equivalent compose file for docker stack deploy
// (compose entrypoint is the Swarm Command, as Kargo's command).
func (s stackSpec) composeFile() string {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range s.n {
		fmt.Fprintf(&b, `  %s:
    image: %s
    entrypoint: [sleep, "3600"]
    networks: [back]
    stop_grace_period: 1s
    deploy: {replicas: %d}
`, serviceName(i), image, s.replicas)
		if i == 0 && s.env != "" {
			name, value, _ := strings.Cut(s.env, "=")
			fmt.Fprintf(&b, "    environment: {%s: %q}\n", name, value)
		}
	}
	b.WriteString("networks:\n  back: {}\n")
	return b.String()
}

// write writes content to a file of the output directory and returns its path.
func (b *bench) write(name, content string) (string, error) {
	path := filepath.Join(b.cfg.out, "manifests", name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	return path, os.WriteFile(path, []byte(content), 0o644)
}
