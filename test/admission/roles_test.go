package admission

import (
	"testing"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// TestProjectRoles: the ClusterRoles of config/rbac, bound in a namespace
// with RoleBindings, grant what the README says, there and nowhere else;
// a viewer's Promotion is refused by RBAC before the webhook.
func TestProjectRoles(t *testing.T) {
	p := newProject(t)
	other := newProject(t)
	users := map[string]string{}
	for _, role := range []string{"viewer", "promoter", "admin"} {
		name, _ := p.user(role)
		p.bind(userSubject(name), "ClusterRole", "project-"+role)
		users[role] = name
	}
	cases := []struct {
		verb, resource string
		// allowed to viewer, promoter, admin
		viewer, promoter, admin bool
	}{
		{"get", "stages", true, true, true},
		{"list", "freights", true, true, true},
		{"watch", "promotions", true, true, true},
		{"list", "warehouses", true, true, true},
		{"get", "stacks", true, true, true},
		{"list", "services", true, true, true},
		{"get", "environments", true, true, true},
		{"get", "stages/status", true, true, true},
		{"create", "promotions", false, true, true},
		{"promote", "stages", false, true, true},
		{"update", "freights/status", false, true, true},
		{"patch", "freights/status", false, true, true},
		{"delete", "promotions", false, false, true},
		{"update", "promotions", false, false, false},
		{"create", "stages", false, false, true},
		{"update", "stages", false, false, true},
		{"delete", "warehouses", false, false, true},
		{"create", "stacks", false, false, true},
		{"patch", "services", false, false, true},
		{"delete", "environments", false, false, true},
		{"update", "freights", false, false, true},
		{"create", "freights", false, false, true},
		{"update", "stages/status", false, false, false},
		{"get", "secrets", false, false, false},
	}
	for _, c := range cases {
		for role, want := range map[string]bool{"viewer": c.viewer, "promoter": c.promoter, "admin": c.admin} {
			p.g.Expect(p.may(users[role], c.verb, c.resource)).To(Equal(want), "%s may %s %s", role, c.verb, c.resource)
			p.g.Expect(other.may(users[role], c.verb, c.resource)).To(BeFalse(), "%s may %s %s in a namespace without its RoleBinding", role, c.verb, c.resource)
		}
	}

	_, asViewer := p.user("viewer2")
	p.bind(userSubject("viewer2-"+p.namespace), "ClusterRole", "project-viewer")
	err := asViewer.Create(ctx, p.promotion("test"))
	p.g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "a viewer's Promotion: %v", err)
	p.g.Expect(err.Error()).To(ContainSubstring(`cannot create resource "promotions"`), "refused by RBAC, not the webhook")
}
