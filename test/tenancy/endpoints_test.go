package tenancy

import (
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/testenv"
)

// TestEndpointNotAllowed: an Environment whose endpoint --allowed-endpoints
// does not list is Stalled (EndpointNotAllowed) with a Warning event, its
// Stack reports the Environment not Ready, and the manager never connects
// to the endpoint, not even to delete the Stack. The shared Swarm, listed,
// is Ready under the same manager.
func TestEndpointNotAllowed(t *testing.T) {
	f := newFixture(t)
	listener := listen(t, "127.0.0.1")
	// With TLS material that works (the same as the control of
	// TestInsecureEndpointRefused, which is dialed): only the policy stops it.
	refused := f.environment("refused", kargov1.Endpoint{Host: listener.host(), TLSSecretRef: f.tlsSecret()})
	stack := f.stack("app", refused)

	f.expectRefused(refused, stack, kargov1.EndpointNotAllowedReason, "--allowed-endpoints")

	shared := f.environment("shared", kargov1.Endpoint{Host: dockerHost})
	f.Eventually(shared, func(g Gomega) {
		testenv.ExpectCondition(g, shared, kargov1.ReadyCondition, metav1.ConditionTrue, kargov1.ReconciledReason)
	})
	f.g.Expect(listener.accepted.Load()).To(BeZero(), "the manager connected to an endpoint --allowed-endpoints refuses")
}

// TestInsecureEndpointRefused: plain TCP (insecure: true) is refused while
// --allow-insecure-endpoints is false, even to an endpoint the patterns
// allow, and the manager never connects to it. The control: the same
// endpoint with TLS is dialed.
func TestInsecureEndpointRefused(t *testing.T) {
	f := newFixture(t)
	listener := listen(t, allowedLoopback)
	plain := f.environment("plain", kargov1.Endpoint{Host: listener.host(), Insecure: true})
	stack := f.stack("app", plain)

	f.expectRefused(plain, stack, kargov1.EndpointNotAllowedReason, "--allow-insecure-endpoints=false")
	f.g.Expect(listener.accepted.Load()).To(BeZero(), "the manager connected to an insecure endpoint")

	// With TLS the endpoint is allowed: the manager dials it, and fails
	// (the listener hangs up), which is not a stall.
	withTLS := f.environment("tls", kargov1.Endpoint{Host: listener.host(), TLSSecretRef: f.tlsSecret()})
	f.Eventually(withTLS, func(g Gomega) {
		ready := meta.FindStatusCondition(withTLS.Status.Conditions, kargov1.ReadyCondition)
		g.Expect(ready).NotTo(BeNil())
		g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(ready.Reason).To(BeElementOf(kargov1.TLSErrorReason, kargov1.UnreachableReason), ready.Message)
		g.Expect(meta.FindStatusCondition(withTLS.Status.Conditions, kargov1.StalledCondition)).To(BeNil())
		g.Expect(listener.accepted.Load()).To(BeNumerically(">", 0))
	})
}
