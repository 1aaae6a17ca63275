package swarm_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/swarm"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var goldenObjects = swarm.StackObjects{
	Namespace: "geo", Owner: "maps/geo",
	Networks: map[string]string{"back": "net-back-id", "front": "net-front-id"},
	Configs:  map[string]swarm.ObjectRef{"site": {ID: "cfg-id", Name: "geo_site-0123456789"}},
	Secrets:  map[string]swarm.ObjectRef{"password": {ID: "sec-id", Name: "geo_password-0123456789"}},
	Env:      map[string]string{"TOKEN": "t0k3n"},
}

// TestServiceSpecGolden converts Services to Swarm specs and compares them
// with testdata/*.golden (go test ./internal/swarm -run Golden -update).
func TestServiceSpecGolden(t *testing.T) {
	global := &kargov1.Service{ObjectMeta: metav1.ObjectMeta{Name: "node-exporter"}, Spec: kargov1.ServiceSpec{
		Image: "prom/node-exporter:v1.2.2", Mode: "global", EndpointMode: "dnsrr",
		Mounts:      []kargov1.Mount{{Type: "bind", Source: "/", Target: "/host", ReadOnly: true}},
		Healthcheck: &kargov1.Healthcheck{Disable: true},
		Ports:       []kargov1.Port{{Target: 9100, Published: 9100, Protocol: "tcp", Mode: "host"}, {Target: 53, Protocol: "udp", Mode: "ingress"}},
	}}
	minimal := &kargov1.Service{ObjectMeta: metav1.ObjectMeta{Name: "redis"}, Spec: kargov1.ServiceSpec{Image: "redis:5", Replicas: ptr.To[int64](0)}}
	for name, svc := range map[string]*kargov1.Service{"full": fullService("web"), "global": global, "minimal": minimal} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			spec, err := swarm.ServiceSpec(svc, goldenObjects)
			g.Expect(err).NotTo(HaveOccurred())
			again, _ := swarm.ServiceSpec(svc, goldenObjects)
			g.Expect(swarm.Hash(again)).To(Equal(swarm.Hash(spec)), "conversion is not deterministic")
			got, err := json.MarshalIndent(spec, "", "  ")
			g.Expect(err).NotTo(HaveOccurred())
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				g.Expect(os.WriteFile(golden, append(got, '\n'), 0o644)).To(Succeed())
			}
			want, err := os.ReadFile(golden)
			g.Expect(err).NotTo(HaveOccurred(), "missing golden file: run with -update")
			g.Expect(string(got) + "\n").To(Equal(string(want)))
		})
	}
}

// TestServiceSpecErrors names the field of a reference the Stack lacks.
func TestServiceSpecErrors(t *testing.T) {
	cases := map[string]struct {
		spec kargov1.ServiceSpec
		want string
	}{
		"undeclared network": {kargov1.ServiceSpec{Image: "x", Networks: []kargov1.NetworkAttachment{{Name: "nope"}}}, `spec.networks[0]: network "nope" is not declared in the Stack`},
		"undeclared config":  {kargov1.ServiceSpec{Image: "x", Configs: []kargov1.FileReference{{Name: "nope"}}}, `spec.configs[0]: config "nope" is not declared in the Stack`},
		"undeclared secret":  {kargov1.ServiceSpec{Image: "x", Secrets: []kargov1.FileReference{{Name: "site"}, {Name: "nope"}}}, `spec.secrets[0]: secret "site" is not declared in the Stack`},
		"unresolved env":     {kargov1.ServiceSpec{Image: "x", Env: []kargov1.EnvVar{{Name: "A", ValueFrom: &kargov1.EnvVarSource{SecretKeyRef: &kargov1.KeySelector{Name: "s", Key: "k"}}}}}, "spec.env[0] (A): valueFrom not resolved"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := swarm.ServiceSpec(&kargov1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Spec: tc.spec}, goldenObjects)
			NewWithT(t).Expect(err).To(MatchError(tc.want))
		})
	}
}
