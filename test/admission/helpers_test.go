package admission

import (
	"context"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/testenv"
)

var ctx = context.Background()

// Nothing here waits for a Swarm: deletions are quick even on a busy
// machine.
const (
	timeout = time.Minute
	poll    = 250 * time.Millisecond
)

// project is one test's namespace (a Project: testenv.Namespace, whose
// cleanup deletes what the test made there, then the namespace) with two
// Stages, test (direct from Warehouse w) and prod (from test), and a
// Freight of w.
type project struct {
	*testenv.Namespace
	t         *testing.T
	g         *WithT
	namespace string
	freight   *kargov1.Freight
}

func newProject(t *testing.T) *project {
	t.Helper()
	ns := testenv.NewNamespace(t, k8s, namespacePrefix, timeout, poll)
	p := &project{Namespace: ns, t: t, g: NewWithT(t), namespace: ns.Name}
	p.stage("test", kargov1.FreightSources{Direct: true})
	p.stage("prod", kargov1.FreightSources{Stages: []string{"test"}})
	p.freight = &kargov1.Freight{
		ObjectMeta: metav1.ObjectMeta{Name: "f-" + utilrand.String(6), Namespace: p.namespace},
		Spec: kargov1.FreightSpec{
			Origin: kargov1.FreightOrigin{Name: "w"},
			Images: []kargov1.FreightImage{{RepoURL: "127.0.0.1:5000/app", Tag: "1.0.0", Digest: "sha256:" + strings.Repeat("a", 64)}},
		},
	}
	p.Create(p.freight)
	return p
}

func (p *project) stage(name string, sources kargov1.FreightSources) {
	p.t.Helper()
	p.Create(&kargov1.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: p.namespace},
		Spec: kargov1.StageSpec{
			RequestedFreight: []kargov1.FreightRequest{{Origin: kargov1.FreightOrigin{Name: "w"}, Sources: sources}},
			Targets:          []kargov1.StageTarget{{Stack: "app"}},
		},
	})
}

// user is a user of the API server (a client certificate of envtest) with
// a client acting as them; name is unique to the test's namespace.
func (p *project) user(name string, groups ...string) (string, client.Client) {
	p.t.Helper()
	name = name + "-" + p.namespace
	u, err := apiEnv.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	p.g.Expect(err).NotTo(HaveOccurred())
	c, err := client.New(u.Config(), client.Options{Scheme: scheme})
	p.g.Expect(err).NotTo(HaveOccurred())
	return name, c
}

// bind binds a ClusterRole of config/rbac (by its name there) or a Role of
// the namespace to a subject in the namespace: a RoleBinding. It returns
// once the API server's authorizer grants the subject each rule of the
// role: that authorizer reads bindings from a cache, and a request sent
// right after the create can be refused.
func (p *project) bind(subject rbacv1.Subject, kind, role string) {
	p.t.Helper()
	p.Create(&rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{GenerateName: role + "-", Namespace: p.namespace},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: role},
		Subjects:   []rbacv1.Subject{subject},
	})
	var rules []rbacv1.PolicyRule
	if kind == "ClusterRole" {
		var r rbacv1.ClusterRole
		p.g.Expect(k8s.Get(ctx, client.ObjectKey{Name: role}, &r)).To(Succeed())
		rules = r.Rules
	} else {
		var r rbacv1.Role
		p.g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: p.namespace, Name: role}, &r)).To(Succeed())
		rules = r.Rules
	}
	p.g.Expect(rules).NotTo(BeEmpty(), "%s %s has no rules", kind, role)
	for _, rule := range rules {
		spec := p.accessReview(rule.Verbs[0], rule.APIGroups[0], rule.Resources[0])
		if len(rule.ResourceNames) > 0 {
			spec.ResourceAttributes.Name = rule.ResourceNames[0]
		}
		if subject.Kind == rbacv1.GroupKind {
			spec.User, spec.Groups = "member-of-"+subject.Name, []string{subject.Name}
		} else {
			spec.User = subject.Name
		}
		p.g.Eventually(func(g Gomega) {
			g.Expect(allowed(g, spec)).To(BeTrue(), "%s %s granted by %s %s", rule.Verbs[0], rule.Resources[0], kind, role)
		}, timeout, poll).Should(Succeed())
	}
}

// role creates a Role of the namespace.
func (p *project) role(name string, rules ...rbacv1.PolicyRule) {
	p.t.Helper()
	p.Create(&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: p.namespace}, Rules: rules})
}

func userSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
}

// promotion is a Promotion of the project's Freight to a Stage.
func (p *project) promotion(stage string) *kargov1.Promotion {
	return &kargov1.Promotion{
		ObjectMeta: metav1.ObjectMeta{GenerateName: stage + "-", Namespace: p.namespace},
		Spec:       kargov1.PromotionSpec{Stage: stage, Freight: p.freight.Name},
	}
}

// approve adds an approval of the project's Freight for the Stage, as c's
// user, with an update of the status subresource.
func (p *project) approve(c client.Client, stage string) error {
	var f kargov1.Freight
	p.g.Expect(c.Get(ctx, client.ObjectKeyFromObject(p.freight), &f)).To(Succeed())
	f.Status.ApprovedFor = append(f.Status.ApprovedFor, kargov1.FreightStageRecord{Stage: stage, Time: &metav1.Time{Time: time.Now()}})
	return c.Status().Update(ctx, &f)
}

// may asks the API server whether the user may do verb on a Kargo
// resource (resource/subresource) in the namespace.
func (p *project) may(user, verb, resource string) bool {
	p.t.Helper()
	spec := p.accessReview(verb, kargov1.GroupVersion.Group, resource)
	spec.User = user
	return allowed(p.g, spec)
}

// accessReview asks for verb on resource (resource/subresource) of the API
// group in the namespace; the caller names who asks.
func (p *project) accessReview(verb, group, resource string) authorizationv1.SubjectAccessReviewSpec {
	attrs := &authorizationv1.ResourceAttributes{Namespace: p.namespace, Verb: verb, Group: group}
	attrs.Resource, attrs.Subresource, _ = strings.Cut(resource, "/")
	return authorizationv1.SubjectAccessReviewSpec{ResourceAttributes: attrs}
}

// allowed is the API server's answer to a SubjectAccessReview.
func allowed(g Gomega, spec authorizationv1.SubjectAccessReviewSpec) bool {
	review := &authorizationv1.SubjectAccessReview{Spec: spec}
	g.Expect(k8s.Create(ctx, review)).To(Succeed())
	return review.Status.Allowed
}
