package admission

import (
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// refusal is the webhook's message for a user without the promote verb.
func refusal(user, what, namespace string) string {
	return fmt.Sprintf("user %q may not %s: it takes the verb promote on stages in namespace %s (see the ClusterRole kargo-project-promoter)", user, what, namespace)
}

// TestPromoteVerb: a user with the promoter role creates a Promotion and
// approves Freight; a user who may create Promotions and update Freight
// status but lacks the verb promote is refused both, with the webhook's
// message, and may still withdraw an approval. Freight not verified
// upstream is refused until approved. An approval is signed by its user;
// only the manager records verifications.
func TestPromoteVerb(t *testing.T) {
	p := newProject(t)
	g := p.g
	alice, asAlice := p.user("alice")
	p.bind(userSubject(alice), "ClusterRole", "project-promoter")
	bob, asBob := p.user("bob")
	p.role("promotions-without-promote",
		rbacv1.PolicyRule{APIGroups: []string{kargov1.GroupVersion.Group}, Resources: []string{"promotions"}, Verbs: []string{"create"}},
		rbacv1.PolicyRule{APIGroups: []string{kargov1.GroupVersion.Group}, Resources: []string{"freights", "stages"}, Verbs: []string{"get"}},
		rbacv1.PolicyRule{APIGroups: []string{kargov1.GroupVersion.Group}, Resources: []string{"freights/status"}, Verbs: []string{"update"}})
	p.bind(userSubject(bob), "Role", "promotions-without-promote")

	g.Expect(asAlice.Create(ctx, p.promotion("test"))).To(Succeed(), "the promoter's Promotion")

	err := asBob.Create(ctx, p.promotion("test"))
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "bob's Promotion: %v", err)
	g.Expect(err.Error()).To(ContainSubstring(refusal(bob, "promote to Stage test", p.namespace)))

	err = p.approve(asBob, "prod")
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "bob's approval: %v", err)
	g.Expect(err.Error()).To(ContainSubstring(refusal(bob, "approve Freight "+p.freight.Name+" for Stage prod", p.namespace)))

	// Not verified in test: prod takes the Freight once approved.
	err = asAlice.Create(ctx, p.promotion("prod"))
	g.Expect(err).To(MatchError(ContainSubstring("spec.freight: freight " + p.freight.Name + " is not verified in")))
	g.Expect(err).To(MatchError(ContainSubstring("nor approved for stage prod")))
	g.Expect(p.approve(asAlice, "prod")).To(Succeed(), "the promoter's approval")
	g.Expect(asAlice.Create(ctx, p.promotion("prod"))).To(Succeed(), "a Promotion of approved Freight")
	var f kargov1.Freight
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p.freight), &f)).To(Succeed())
	g.Expect(f.IsApprovedFor("prod")).To(BeTrue(), "approvedFor after the promoter's approval: %+v", f.Status)

	// A signature (by) is the approver's own.
	g.Expect(asAlice.Get(ctx, client.ObjectKeyFromObject(p.freight), &f)).To(Succeed())
	f.Status.ApprovedFor = append(f.Status.ApprovedFor, kargov1.FreightStageRecord{Stage: "test", By: "carol"})
	g.Expect(asAlice.Status().Update(ctx, &f)).To(MatchError(ContainSubstring(
		fmt.Sprintf(`status.approvedFor[stage=test].by: "carol" is not the user who approves (%q)`, alice))))

	// Only the manager (here the suite's admin user, as k8s) records
	// verifications: bob, who may update Freight status, may not.
	g.Expect(asBob.Get(ctx, client.ObjectKeyFromObject(p.freight), &f)).To(Succeed())
	f.Status.VerifiedIn = append(f.Status.VerifiedIn, kargov1.FreightStageRecord{Stage: "test", Time: &metav1.Time{Time: f.CreationTimestamp.Time}})
	g.Expect(asBob.Status().Update(ctx, &f)).To(MatchError(ContainSubstring(
		fmt.Sprintf("status.verifiedIn: user %q may not record Freight %s as verified in test: the Kargo manager does", bob, p.freight.Name))))
	g.Expect(k8s.Status().Update(ctx, &f)).To(Succeed(), "the manager's user records a verification")
	g.Expect(f.IsVerifiedIn("test") && f.IsApprovedFor("prod")).To(BeTrue(), "status after the verification: %+v", f.Status)

	// Withdrawing an approval approves nothing: bob may.
	f.Status.ApprovedFor = nil
	g.Expect(asBob.Status().Update(ctx, &f)).To(Succeed(), "an approval withdrawn")
}

// TestPromoteOneStage: the review names the Stage, so a Role granting
// promote on one Stage (resourceNames) lets its user promote there and
// nowhere else; the review carries the user's groups, so a RoleBinding of
// the promoter role to a group lets its members promote.
func TestPromoteOneStage(t *testing.T) {
	p := newProject(t)
	g := p.g
	tester, asTester := p.user("tester")
	p.role("promote-to-test",
		rbacv1.PolicyRule{APIGroups: []string{kargov1.GroupVersion.Group}, Resources: []string{"promotions"}, Verbs: []string{"create"}},
		rbacv1.PolicyRule{APIGroups: []string{kargov1.GroupVersion.Group}, Resources: []string{"stages"}, ResourceNames: []string{"test"}, Verbs: []string{kargov1.PromoteVerb}})
	p.bind(userSubject(tester), "Role", "promote-to-test")
	g.Expect(asTester.Create(ctx, p.promotion("test"))).To(Succeed(), "a Promotion to the Stage of the Role")
	err := asTester.Create(ctx, p.promotion("prod"))
	g.Expect(err).To(MatchError(ContainSubstring(refusal(tester, "promote to Stage prod", p.namespace))))

	group := "release-managers-" + p.namespace
	_, asMember := p.user("erin", group)
	p.bind(rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: group}, "ClusterRole", "project-promoter")
	g.Expect(asMember.Create(ctx, p.promotion("test"))).To(Succeed(), "a Promotion by a member of a group bound to the promoter role")
}

// TestPromotionReferences: a Promotion of a Stage or Freight that does not
// exist is refused, naming the field, as is one of Freight from an origin
// the Stage does not request.
func TestPromotionReferences(t *testing.T) {
	p := newProject(t)
	g := p.g
	alice, asAlice := p.user("alice")
	p.bind(userSubject(alice), "ClusterRole", "project-promoter")

	noStage := p.promotion("staging")
	g.Expect(asAlice.Create(ctx, noStage)).To(MatchError(ContainSubstring("spec.stage: Stage staging not found in namespace " + p.namespace)))
	noFreight := p.promotion("test")
	noFreight.Spec.Freight = "f-missing"
	g.Expect(asAlice.Create(ctx, noFreight)).To(MatchError(ContainSubstring("spec.freight: Freight f-missing not found in namespace " + p.namespace)))

	other := &kargov1.Freight{
		ObjectMeta: metav1.ObjectMeta{Name: "f-other", Namespace: p.namespace},
		Spec:       kargov1.FreightSpec{Origin: kargov1.FreightOrigin{Name: "w2"}, Images: p.freight.Spec.Images},
	}
	g.Expect(k8s.Create(ctx, other)).To(Succeed())
	fromW2 := p.promotion("test")
	fromW2.Spec.Freight = other.Name
	g.Expect(asAlice.Create(ctx, fromW2)).To(MatchError(ContainSubstring("spec.freight: freight f-other comes from Warehouse w2, which stage test does not request (spec.requestedFreight)")))
}
