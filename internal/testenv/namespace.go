package testenv

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/volume"
	dockerclient "github.com/docker/docker/client"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// DeletionOrder is the order in which a test's Kargo objects are deleted,
// the order their finalizers need: Stages first (an auto-promoting Stage
// would promote again), Warehouses, then Promotions before the Stacks (a
// running one removes its verification job from its Stack's Swarm), then
// Stacks (their finalizers clean the Swarm) before the Environments they
// need to reach it.
func DeletionOrder() []client.ObjectList {
	return []client.ObjectList{
		&kargov1.StageList{}, &kargov1.WarehouseList{}, &kargov1.PromotionList{}, &kargov1.FreightList{},
		&kargov1.StackList{}, &kargov1.EnvironmentList{},
	}
}

// Namespace is one test's own Kubernetes namespace on a test API server,
// with the reads and writes every suite's fixture makes in it. Its cleanup
// deletes the Kargo objects left in the namespace kind by kind
// (DeletionOrder), waiting until each kind is gone, then runs the
// AfterDelete hooks, then deletes the namespace.
type Namespace struct {
	// Name is the namespace's name: the prefix and six random characters.
	Name string
	// Ctx is the context of the test's requests.
	Ctx           context.Context
	t             *testing.T
	c             client.Client
	timeout, poll time.Duration
	afterDelete   []func(g Gomega)
}

// NewNamespace creates a namespace named prefix plus six random characters
// with c, and registers its cleanup with t. Every wait of its methods is
// bounded by timeout, checked every poll.
func NewNamespace(t *testing.T, c client.Client, prefix string, timeout, poll time.Duration) *Namespace {
	t.Helper()
	n := &Namespace{Name: prefix + utilrand.String(6), Ctx: context.Background(), t: t, c: c, timeout: timeout, poll: poll}
	n.Create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n.Name}})
	t.Cleanup(n.cleanup)
	return n
}

// AfterDelete adds a step to the cleanup, run once the namespace's Kargo
// objects are gone and before the namespace is deleted: e.g. removing the
// test's volumes, which Kargo never removes.
func (n *Namespace) AfterDelete(step func(g Gomega)) { n.afterDelete = append(n.afterDelete, step) }

// RemoveVolumesAfterDelete adds to the cleanup the removal of the volumes
// of the namespace's stacks (named after it): volumes outlive their Stacks
// by design, and their tasks' containers may take a moment to go.
func (n *Namespace) RemoveVolumesAfterDelete(docker *dockerclient.Client) {
	n.AfterDelete(func(g Gomega) {
		vols, err := docker.VolumeList(n.Ctx, volume.ListOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		for _, v := range vols.Volumes {
			if strings.HasPrefix(v.Name, n.Name) {
				g.Expect(docker.VolumeRemove(n.Ctx, v.Name, false)).To(Succeed())
			}
		}
	})
}

// Create creates obj, failing the test if it cannot.
func (n *Namespace) Create(obj client.Object) {
	n.t.Helper()
	NewWithT(n.t).Expect(n.c.Create(n.Ctx, obj)).To(Succeed())
}

// Update re-reads obj, applies change and writes it, retrying on conflicts.
func (n *Namespace) Update(obj client.Object, change func()) {
	n.t.Helper()
	NewWithT(n.t).Eventually(func() error {
		if err := n.c.Get(n.Ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		change()
		return n.c.Update(n.Ctx, obj)
	}, n.timeout, n.poll).Should(Succeed())
}

// Eventually re-reads obj until check passes: every assertion about one
// state goes in one wait, so nothing is read once after waiting for
// something else.
func (n *Namespace) Eventually(obj client.Object, check func(g Gomega)) {
	n.t.Helper()
	NewWithT(n.t).Eventually(func(g Gomega) {
		g.Expect(n.c.Get(n.Ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		check(g)
	}, n.timeout, n.poll).Should(Succeed())
}

// Events lists the events of the namespace about obj (by UID; by name when
// obj has none; all when nil) as "Type Reason: message".
func (n *Namespace) Events(g Gomega, obj client.Object) []string {
	var list corev1.EventList
	g.Expect(n.c.List(n.Ctx, &list, client.InNamespace(n.Name))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if obj == nil || (obj.GetUID() != "" && e.InvolvedObject.UID == obj.GetUID()) ||
			(obj.GetUID() == "" && e.InvolvedObject.Name == obj.GetName()) {
			out = append(out, e.Type+" "+e.Reason+": "+e.Message)
		}
	}
	return out
}

// WaitDeleted waits until every object of list's kind in the namespace is
// gone (their finalizers done), naming those left when it gives up.
func (n *Namespace) WaitDeleted(g *WithT, list client.ObjectList, why string) {
	g.Eventually(func(g Gomega) {
		g.Expect(n.c.List(n.Ctx, list, client.InNamespace(n.Name))).To(Succeed())
		g.Expect(meta.LenList(list)).To(BeZero(), "%s: %v", why, Names(list))
	}, n.timeout, n.poll).Should(Succeed())
}

func (n *Namespace) cleanup() {
	g := NewWithT(n.t)
	for _, list := range DeletionOrder() {
		g.Expect(n.c.List(n.Ctx, list, client.InNamespace(n.Name))).To(Succeed())
		_ = meta.EachListItem(list, func(o runtime.Object) error {
			if err := n.c.Delete(n.Ctx, o.(client.Object)); client.IgnoreNotFound(err) != nil {
				n.t.Errorf("cleanup: delete %T %s: %v", o, o.(client.Object).GetName(), err)
			}
			return nil
		})
		n.WaitDeleted(g, list, "left after cleanup")
	}
	for _, step := range n.afterDelete {
		g.Eventually(step, n.timeout, n.poll).Should(Succeed())
	}
	g.Expect(client.IgnoreNotFound(n.c.Delete(n.Ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n.Name}}))).To(Succeed())
}

// Names are the names of list's items.
func Names(list client.ObjectList) []string {
	var out []string
	_ = meta.EachListItem(list, func(o runtime.Object) error {
		out = append(out, o.(client.Object).GetName())
		return nil
	})
	return out
}
