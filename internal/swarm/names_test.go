package swarm_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/kargo-io/kargo/internal/swarm"
)

// testKey is a Stack naming key for tests that need one.
var testKey = []byte("0123456789abcdef0123456789abcdef")

// TestVersionedNameKeyed: a config or secret version is named by a keyed
// digest of its content, so its name, which anyone on the Swarm sees, does
// not reveal a hash of the content.
func TestVersionedNameKeyed(t *testing.T) {
	otherKey := []byte("fedcba9876543210fedcba9876543210")
	cases := map[string]struct {
		keyA, keyB   []byte
		dataA, dataB string
		same         bool
	}{
		"same content, same key: stable":         {testKey, testKey, "hunter2", "hunter2", true},
		"same content, other key: another name":  {testKey, otherKey, "hunter2", "hunter2", false},
		"other content, same key: another name":  {testKey, testKey, "hunter2", "hunter3", false},
		"empty content, other key: another name": {testKey, otherKey, "", "", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			a := swarm.VersionedName(tc.keyA, "geo", "db-password", []byte(tc.dataA))
			b := swarm.VersionedName(tc.keyB, "geo", "db-password", []byte(tc.dataB))
			g.Expect(a).To(HavePrefix("geo_db-password-"))
			g.Expect(a).To(HaveLen(len("geo_db-password-") + 10))
			if tc.same {
				g.Expect(a).To(Equal(b))
			} else {
				g.Expect(a).NotTo(Equal(b))
			}
			for _, n := range []struct{ name, data string }{{a, tc.dataA}, {b, tc.dataB}} {
				sum := sha256.Sum256([]byte(n.data))
				plain := hex.EncodeToString(sum[:])
				suffix := n.name[strings.LastIndexByte(n.name, '-')+1:]
				g.Expect(plain).NotTo(ContainSubstring(suffix), "the name's suffix is part of the content's plain sha256")
				g.Expect(n.name).NotTo(Equal(swarm.ScopedName("geo", "db-password") + "-" + plain[:10]))
			}
		})
	}
}

// TestSpecHashSecretEnv: env values read from Secrets enter the spec hash
// only keyed; the hash still changes with them.
func TestSpecHashSecretEnv(t *testing.T) {
	g := NewWithT(t)
	objs := goldenObjects
	objs.Env = map[string]string{"TOKEN": "hunter2"}
	spec, err := swarm.ServiceSpec(fullService("web"), objs)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(spec.TaskTemplate.ContainerSpec.Env).To(ContainElement("TOKEN=hunter2"))
	secretEnv := []string{"TOKEN"}

	hash := swarm.SpecHash(spec, secretEnv, testKey)
	g.Expect(hash).To(Equal(swarm.SpecHash(spec, secretEnv, testKey)), "stable for the same spec and key")
	g.Expect(spec.TaskTemplate.ContainerSpec.Env).To(ContainElement("TOKEN=hunter2"), "the caller's spec is left as it was")
	// Who guesses the value and hashes the spec as Kargo did before (a
	// plain hash of it, value included) does not find the hash.
	g.Expect(hash).NotTo(Equal(swarm.SpecHash(spec, nil, nil)))
	g.Expect(hash).NotTo(Equal(swarm.Hash(swarm.Normalize(spec))))
	g.Expect(hash).NotTo(Equal(swarm.SpecHash(spec, secretEnv, []byte("another key"))), "the key enters the hash")

	objs.Env = map[string]string{"TOKEN": "hunter3"}
	changed, err := swarm.ServiceSpec(fullService("web"), objs)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(swarm.SpecHash(changed, secretEnv, testKey)).NotTo(Equal(hash), "a new secret value is a new spec")

	// Env entries not read from Secrets enter the hash as they are.
	plain := fullService("web")
	plain.Spec.Env[0].Value = "other"
	other, err := swarm.ServiceSpec(plain, goldenObjects)
	g.Expect(err).NotTo(HaveOccurred())
	base, err := swarm.ServiceSpec(fullService("web"), goldenObjects)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(swarm.SpecHash(other, secretEnv, testKey)).NotTo(Equal(swarm.SpecHash(base, secretEnv, testKey)))
}
