package v1alpha1_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kargo-io/kargo/internal/testenv"
)

var k8s client.Client

func TestMain(m *testing.M) {
	// The schema alone: no manager answers the admission webhook here.
	env, cfg, err := testenv.StartAPIServer(testenv.WithoutWebhooks)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	k8s, err = client.New(cfg, client.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "validation-" + utilrand.String(6)}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

func object(t *testing.T, doc, namespace string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatalf("bad test manifest: %v", err)
	}
	u.SetNamespace(namespace)
	return u
}

const validService = `
apiVersion: swarm.kargo.io/v1alpha1
kind: Service
metadata: {name: web}
spec:
  stackRef: {name: geo}
  image: busybox:1.36
`

// TestInvalidManifestsAreRejected applies bad manifests and checks that the
// apiserver refuses each with a message naming the bad field.
func TestInvalidManifestsAreRejected(t *testing.T) {
	cases := []struct {
		name     string
		manifest string
		// want are substrings of the error: the field path and the message.
		want []string
	}{
		{"global service with replicas", validService + "  mode: global\n  replicas: 2\n",
			[]string{"spec.replicas", "replicas cannot be set when mode is global"}},
		{"global service with maxReplicasPerNode", validService + "  mode: global\n  placement: {maxReplicasPerNode: 1}\n",
			[]string{"spec.placement.maxReplicasPerNode", "placement.maxReplicasPerNode cannot be set when mode is global"}},
		{"port target 0", validService + "  ports: [{target: 0}]\n",
			[]string{"spec.ports[0].target", "greater than or equal to 1"}},
		{"published port above 65535", validService + "  ports: [{target: 80, published: 70000}]\n",
			[]string{"spec.ports[0].published", "less than or equal to 65535"}},
		{"unknown protocol", validService + "  ports: [{target: 80, protocol: icmp}]\n",
			[]string{"spec.ports[0].protocol", `Unsupported value: "icmp"`, `"tcp", "udp", "sctp"`}},
		{"unknown publish mode", validService + "  ports: [{target: 80, published: 80, mode: bridge}]\n",
			[]string{"spec.ports[0].mode", `Unsupported value: "bridge"`}},
		{"host port without published", validService + "  ports: [{target: 80, mode: host}]\n",
			[]string{"spec.ports[0].published", "a host-mode port needs published"}},
		{"unknown mount type", validService + "  mounts: [{type: nfs, source: x, target: /x}]\n",
			[]string{"spec.mounts[0].type", `Unsupported value: "nfs"`}},
		{"bind mount with relative source", validService + "  mounts: [{type: bind, source: data, target: /data}]\n",
			[]string{"spec.mounts[0].source", "a bind mount needs an absolute source path"}},
		{"mount target not absolute", validService + "  mounts: [{source: v, target: data}]\n",
			[]string{"spec.mounts[0].target", "should match '^/'"}},
		{"unknown restart condition", validService + "  restartPolicy: {condition: always}\n",
			[]string{"spec.restartPolicy.condition", `Unsupported value: "always"`}},
		{"malformed duration", validService + "  stopGracePeriod: ten seconds\n",
			[]string{"spec.stopGracePeriod", "should match"}},
		{"malformed healthcheck interval", validService + "  healthcheck: {test: [CMD, 'true'], interval: 5x}\n",
			[]string{"spec.healthcheck.interval", "should match"}},
		{"healthcheck test without CMD", validService + "  healthcheck: {test: [wget, localhost]}\n",
			[]string{"spec.healthcheck.test", "test must start with CMD, CMD-SHELL or NONE"}},
		{"negative replicas", validService + "  replicas: -1\n",
			[]string{"spec.replicas", "greater than or equal to 0"}},
		{"env with value and valueFrom", validService + "  env: [{name: A, value: x, valueFrom: {secretKeyRef: {name: s, key: k}}}]\n",
			[]string{"spec.env[0]", "set value or valueFrom, not both"}},
		{"rollback that rolls back", validService + "  rollbackConfig: {failureAction: rollback}\n",
			[]string{"spec.rollbackConfig.failureAction", "rollbackConfig.failureAction must be pause or continue"}},
		{"service without image", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Service\nmetadata: {name: x}\nspec: {stackRef: {name: geo}}\n",
			[]string{"spec.image", "Required value"}},
		{"tcp endpoint without TLS", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Environment\nmetadata: {name: e}\nspec: {endpoint: {host: 'tcp://swarm:2376'}}\n",
			[]string{"spec.endpoint.tlsSecretRef", "a tcp:// endpoint needs tlsSecretRef, or insecure: true"}},
		{"endpoint with unknown scheme", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Environment\nmetadata: {name: e}\nspec: {endpoint: {host: 'http://swarm:2375'}}\n",
			[]string{"spec.endpoint.host", "should match"}},
		{"variablesFrom with two sources", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Environment\nmetadata: {name: e}\nspec: {endpoint: {host: 'unix:///run/docker.sock'}, variablesFrom: [{configMapRef: {name: a}, secretRef: {name: b}}]}\n",
			[]string{"spec.variablesFrom[0]", "set exactly one of configMapRef or secretRef"}},
		{"malformed interval", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Environment\nmetadata: {name: e}\nspec: {endpoint: {host: 'unix:///run/docker.sock'}, interval: 10 minutes}\n",
			[]string{"spec.interval", "should match"}},
		{"policy port range min above max", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Environment\nmetadata: {name: e}\nspec: {endpoint: {host: 'unix:///run/docker.sock'}, policy: {publishedPortRanges: [{min: 9000, max: 8000}]}}\n",
			[]string{"spec.policy.publishedPortRanges[0].max", "min must not be greater than max"}},
		{"policy host path not absolute", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Environment\nmetadata: {name: e}\nspec: {endpoint: {host: 'unix:///run/docker.sock'}, policy: {allowedHostPaths: [data]}}\n",
			[]string{"spec.policy.allowedHostPaths[0]", "should match '^/'"}},
		{"shared network with a space", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Environment\nmetadata: {name: e}\nspec: {endpoint: {host: 'unix:///run/docker.sock'}, sharedNetworks: ['kargo front']}\n",
			[]string{"spec.sharedNetworks[0]", "should match"}},
		{"stack namespace with bad characters", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Stack\nmetadata: {name: s}\nspec: {environmentRef: {name: e}, namespace: 'Bad NS!'}\n",
			[]string{"spec.namespace", "should match"}},
		{"image override that changes nothing", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Stack\nmetadata: {name: s}\nspec: {environmentRef: {name: e}, images: [{name: mongo}]}\n",
			[]string{"spec.images[0]", "set at least one of newName, newTag or digest"}},
		{"external network with options", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Stack\nmetadata: {name: s}\nspec: {environmentRef: {name: e}, networks: [{name: shared, external: true, encrypted: true}]}\n",
			[]string{"spec.networks[0]", "an external network is used as it is"}},
		{"network label taking ownership", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Stack\nmetadata: {name: s}\nspec: {environmentRef: {name: e}, networks: [{name: back, labels: {swarm.kargo.io/owner: other/stack}}]}\n",
			[]string{"spec.networks[0].labels", "labels cannot set swarm.kargo.io/* or com.docker.stack.namespace"}},
		{"warehouse repoURL with a tag", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Warehouse\nmetadata: {name: w}\nspec: {subscriptions: [{repoURL: '127.0.0.1:5000/app:1.0'}]}\n",
			[]string{"spec.subscriptions[0].repoURL", "repoURL is a repository without tag or digest"}},
		{"warehouse Digest strategy without tag", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Warehouse\nmetadata: {name: w}\nspec: {subscriptions: [{repoURL: '127.0.0.1:5000/app', imageSelectionStrategy: Digest}]}\n",
			[]string{"spec.subscriptions[0]", "imageSelectionStrategy Digest follows a mutable tag: set tag"}},
		{"warehouse semverConstraint with Lexical", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Warehouse\nmetadata: {name: w}\nspec: {subscriptions: [{repoURL: 'registry.example.com/app', imageSelectionStrategy: Lexical, semverConstraint: ^1.0}]}\n",
			[]string{"spec.subscriptions[0]", "semverConstraint is only used by imageSelectionStrategy SemVer"}},
		{"warehouse without subscriptions", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Warehouse\nmetadata: {name: w}\nspec: {subscriptions: []}\n",
			[]string{"spec.subscriptions", "should have at least 1 items"}},
		{"freight image by tag only", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Freight\nmetadata: {name: f}\nspec: {origin: {name: w}, images: [{repoURL: app, tag: '1.0', digest: latest}]}\n",
			[]string{"spec.images[0].digest", "should match"}},
		{"stage without sources", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Stage\nmetadata: {name: s}\nspec: {requestedFreight: [{origin: {name: w}, sources: {}}], targets: [{stack: app}]}\n",
			[]string{"spec.requestedFreight[0]", "sources: set direct: true or name upstream stages"}},
		{"stage without targets", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Stage\nmetadata: {name: s}\nspec: {requestedFreight: [{origin: {name: w}, sources: {direct: true}}]}\n",
			[]string{"spec.targets", "Required value"}},
		{"promotion without freight", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Promotion\nmetadata: {name: p}\nspec: {stage: test}\n",
			[]string{"spec.freight", "Required value"}},
		{"stack without environmentRef", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Stack\nmetadata: {name: s}\nspec: {}\n",
			[]string{"spec.environmentRef", "Required value"}},
	}
	ns := newNamespace(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			err := k8s.Create(context.Background(), object(t, tc.manifest, ns))
			g.Expect(err).To(HaveOccurred(), "the apiserver accepted an invalid manifest")
			for _, want := range tc.want {
				g.Expect(err.Error()).To(ContainSubstring(want))
			}
			t.Logf("rejected: %v", err)
		})
	}
}

// TestImmutableFields checks the CEL transition rules.
func TestImmutableFields(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	cases := []struct {
		name     string
		manifest string
		change   func(u *unstructured.Unstructured)
		want     []string
	}{
		{"service stackRef", validService,
			func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, "other", "spec", "stackRef", "name")
			},
			[]string{"spec.stackRef", "stackRef is immutable"}},
		{"stack namespace", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Stack\nmetadata: {name: s}\nspec: {environmentRef: {name: e}, namespace: geo}\n",
			func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, "geo2", "spec", "namespace")
			},
			[]string{"spec.namespace", "namespace is immutable"}},
		{"stack namespace from unset", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Stack\nmetadata: {name: s2}\nspec: {environmentRef: {name: e}}\n",
			func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, "other-team", "spec", "namespace")
			},
			[]string{"spec.namespace cannot be set or unset after creation"}},
		{"stack namespace to unset", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Stack\nmetadata: {name: s3}\nspec: {environmentRef: {name: e}, namespace: geo}\n",
			func(u *unstructured.Unstructured) {
				unstructured.RemoveNestedField(u.Object, "spec", "namespace")
			},
			[]string{"spec.namespace cannot be set or unset after creation"}},
		{"stack environmentRef name", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Stack\nmetadata: {name: s4}\nspec: {environmentRef: {name: e}}\n",
			func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, "e2", "spec", "environmentRef", "name")
			},
			[]string{"spec.environmentRef", "environmentRef is immutable", "delete the Stack"}},
		{"stack environmentRef kind", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Stack\nmetadata: {name: s5}\nspec: {environmentRef: {name: e}}\n",
			func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, "ClusterEnvironment", "spec", "environmentRef", "kind")
			},
			[]string{"spec.environmentRef", "environmentRef is immutable"}},
		{"freight spec", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Freight\nmetadata: {name: f}\nalias: sleepy-otter\nspec: {origin: {name: w}, images: [{repoURL: app, tag: '1.0', digest: 'sha256:" + strings.Repeat("a", 64) + "'}]}\n",
			func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"repoURL": "app", "tag": "1.0", "digest": "sha256:" + strings.Repeat("b", 64)}}, "spec", "images")
			},
			[]string{"spec", "the spec of a Freight is immutable"}},
		{"promotion spec", "apiVersion: swarm.kargo.io/v1alpha1\nkind: Promotion\nmetadata: {name: p}\nspec: {stage: test, freight: f}\n",
			func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, "prod", "spec", "stage")
			},
			[]string{"spec", "the spec of a Promotion is immutable"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			u := object(t, tc.manifest, ns)
			g.Expect(k8s.Create(ctx, u)).To(Succeed())
			tc.change(u)
			err := k8s.Update(ctx, u)
			g.Expect(err).To(HaveOccurred(), "the apiserver accepted a change of an immutable field")
			for _, want := range tc.want {
				g.Expect(err.Error()).To(ContainSubstring(want))
			}
		})
	}
}

// TestSamplesAreAccepted applies every manifest of config/samples.
func TestSamplesAreAccepted(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "config", "samples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples found: %v", err)
	}
	ns := newNamespace(t)
	applied := 0
	for _, file := range files {
		if filepath.Base(file) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range strings.Split(string(data), "\n---\n") {
			u := object(t, doc, ns)
			if err := k8s.Create(context.Background(), u); err != nil {
				t.Errorf("%s (document %d, %s %s): %v", filepath.Base(file), i, u.GetKind(), u.GetName(), err)
				continue
			}
			applied++
		}
	}
	if applied < 5 {
		t.Errorf("only %d sample objects applied", applied)
	}
}
