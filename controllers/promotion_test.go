package controllers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	dockerswarm "github.com/docker/docker/api/types/swarm"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/freight"
	"github.com/kargo-io/kargo/internal/testenv"
	"github.com/kargo-io/kargo/internal/testregistry"
)

// promotionFixture is a fixture with a real OCI registry on 127.0.0.1,
// which the local dockerd pulls from by digest.
type promotionFixture struct {
	*fixture
	registry *testregistry.Registry
	repo     string
}

func newPromotionFixture(t *testing.T) *promotionFixture {
	// The registry goes after the fixture's cleanup (t.Cleanup runs last
	// first): Warehouses read it until they are deleted.
	reg := testregistry.ForTest(t)
	f := newFixture(t)
	return &promotionFixture{fixture: f, registry: reg, repo: reg.Host() + "/" + f.namespace + "/app"}
}

// push pushes a release of the app: one that sleeps, or one that exits 1.
func (f *promotionFixture) push(tag string, crash bool) string {
	f.t.Helper()
	cmd := []string{"sleep", "3600"}
	if crash {
		cmd = []string{"sh", "-c", "echo crashing; exit 1"}
	}
	digest, err := f.registry.Push(f.ctx, f.repo+":"+tag, testregistry.ImageOptions{Cmd: cmd})
	f.g.Expect(err).NotTo(HaveOccurred())
	return digest
}

// appStack creates a Stack with one hand-written Service running the
// app's image by tag, with the image's own command.
func (f *promotionFixture) appStack(name, tag string) *kargov1.Stack {
	svc := &kargov1.Service{ObjectMeta: metav1.ObjectMeta{Name: name + "-web"}, Spec: kargov1.ServiceSpec{
		Image: f.repo + ":" + tag, StopGracePeriod: quick(),
		Networks: []kargov1.NetworkAttachment{{Name: "back"}},
	}}
	stack := f.newStack(name)
	stack.Spec.Timeout = &metav1.Duration{Duration: scaled(time.Minute)}
	return f.createStack(stack, svc)
}

// stage creates a Stage taking the app's Freight directly (upstream "")
// or from an upstream Stage, targeting one Stack, with a short soak.
func (f *promotionFixture) stage(name, upstream, stack string, auto bool, job *kargov1.VerificationJob) *kargov1.Stage {
	sources := kargov1.FreightSources{Direct: upstream == ""}
	if upstream != "" {
		sources.Stages = []string{upstream}
	}
	stage := &kargov1.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.namespace},
		Spec: kargov1.StageSpec{
			RequestedFreight: []kargov1.FreightRequest{{Origin: kargov1.FreightOrigin{Name: "app"}, Sources: sources}},
			Targets:          []kargov1.StageTarget{{Stack: stack}},
			AutoPromotion:    auto,
			Verification: kargov1.Verification{
				Soak: &metav1.Duration{Duration: 3 * time.Second}, Timeout: &metav1.Duration{Duration: scaled(time.Minute)}, Job: job,
			},
		},
	}
	f.Create(stage)
	return stage
}

// freightOf makes, by hand, the Freight of one revision of the app.
func (f *promotionFixture) freightOf(tag, digest string) *kargov1.Freight {
	spec := kargov1.FreightSpec{Origin: kargov1.FreightOrigin{Kind: "Warehouse", Name: "app"}, Images: []kargov1.FreightImage{{RepoURL: f.repo, Tag: tag, Digest: digest}}}
	fr := &kargov1.Freight{ObjectMeta: metav1.ObjectMeta{Name: freight.Name(spec), Namespace: f.namespace}, Alias: "release-" + strings.ReplaceAll(tag, ".", "-"), Spec: spec}
	f.Create(fr)
	return fr
}

// promote creates a Promotion as a person would (kargo promote).
func (f *promotionFixture) promote(stage string, fr *kargov1.Freight) (*kargov1.Promotion, error) {
	p := &kargov1.Promotion{
		ObjectMeta: metav1.ObjectMeta{GenerateName: stage + "-", Namespace: f.namespace,
			Labels: map[string]string{kargov1.PromotionCauseLabel: kargov1.PromotionCauseManual, kargov1.StageLabel: stage}},
		Spec: kargov1.PromotionSpec{Stage: stage, Freight: fr.Name},
	}
	return p, k8s.Create(f.ctx, p)
}

// waitPhase waits until the Promotion ends in a terminal phase and checks it.
func (f *promotionFixture) waitPhase(p *kargov1.Promotion, phase kargov1.PromotionPhase) {
	f.t.Helper()
	f.Eventually(p, func(g Gomega) {
		g.Expect(p.Status.Phase.Terminal()).To(BeTrue(), "promotion %s: %s %s", p.Name, p.Status.Phase, p.Status.Message)
	})
	f.g.Expect(p.Status.Phase).To(Equal(phase), "promotion %s: %s", p.Name, p.Status.Message)
}

// runningImage is the image the Swarm service of a Stack's web runs.
func (f *promotionFixture) runningImage(stack string) string {
	return f.swarmServiceIn(stack, stack+"-web").Spec.TaskTemplate.ContainerSpec.Image
}

// waitFreight waits until the Warehouse made the Freight of a digest.
func (f *promotionFixture) waitFreight(digest string) *kargov1.Freight {
	f.t.Helper()
	var found *kargov1.Freight
	f.g.Eventually(func(g Gomega) {
		var list kargov1.FreightList
		g.Expect(k8s.List(f.ctx, &list, client.InNamespace(f.namespace))).To(Succeed())
		for i := range list.Items {
			if list.Items[i].Spec.Images[0].Digest == digest {
				found = &list.Items[i]
			}
		}
		g.Expect(found).NotTo(BeNil(), "no Freight of %s", digest)
	}, timeout, poll).Should(Succeed())
	return found
}

// TestPromotionPipeline runs the pipeline test → prod end to end: a
// Warehouse watching a real registry, test auto-promoting from it, prod
// auto-promoting what test verified. The two Stages are two Stacks on the
// one local Swarm (a second dockerd per test would double its time; the
// TLS Swarm of internal/testenv is covered by the Environment tests).
// A release whose command exits 1 fails in test, test goes back to the
// previous release by a rollback Promotion, and prod never receives it.
func TestPromotionPipeline(t *testing.T) {
	f := newPromotionFixture(t)
	g := f.g
	d100 := f.push("1.0.0", false)
	f.appStack("app-test", "1.0.0")
	f.appStack("app-prod", "1.0.0")
	f.Create(&kargov1.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: f.namespace},
		Spec: kargov1.WarehouseSpec{
			Interval:      metav1.Duration{Duration: time.Second},
			Subscriptions: []kargov1.ImageSubscription{{RepoURL: f.repo, ImageSelectionStrategy: kargov1.SemVerStrategy, SemverConstraint: "^1.0", DiscoveryLimit: 5}},
		},
	})
	test := f.stage("test", "", "app-test", true, nil)
	prod := f.stage("prod", "test", "app-prod", true, nil)

	// 1.0.0: test, then prod.
	f100 := f.waitFreight(d100)
	f.Eventually(prod, func(g Gomega) {
		g.Expect(prod.Status.CurrentFreight).NotTo(BeNil(), "prod holds nothing yet")
		g.Expect(prod.Status.CurrentFreight.Name).To(Equal(f100.Name))
	})

	// 1.0.1: one Freight within the interval; test runs its digest,
	// verification passes after the soak, then prod receives it.
	d101 := f.push("1.0.1", false)
	f101 := f.waitFreight(d101)
	f.Eventually(f101, func(g Gomega) { g.Expect(f101.IsVerifiedIn("test")).To(BeTrue(), "1.0.1 not verified in test") })
	f.Eventually(prod, func(g Gomega) {
		g.Expect(prod.Status.CurrentFreight).NotTo(BeNil())
		g.Expect(prod.Status.CurrentFreight.Name).To(Equal(f101.Name))
		testenv.ExpectReady(g, prod)
	})
	g.Expect(f.runningImage("app-test")).To(HaveSuffix("@"+d101), "test does not run 1.0.1 by digest")
	g.Expect(f.runningImage("app-prod")).To(HaveSuffix("@"+d101), "prod does not run 1.0.1 by digest")
	g.Expect(f101.IsVerifiedIn("prod")).To(BeFalse())
	f.Eventually(f101, func(g Gomega) { g.Expect(f101.IsVerifiedIn("prod")).To(BeTrue()) })

	// 1.0.2 exits 1: its promotion to test fails, test is rolled back to
	// 1.0.1 by a Promotion of its own, prod never gets 1.0.2.
	d102 := f.push("1.0.2", true)
	f102 := f.waitFreight(d102)
	var failed kargov1.Promotion
	f.g.Eventually(func(g Gomega) {
		var list kargov1.PromotionList
		g.Expect(k8s.List(f.ctx, &list, client.InNamespace(f.namespace))).To(Succeed())
		found := false
		for _, p := range list.Items {
			if p.Spec.Freight == f102.Name && p.Spec.Stage == "test" && p.Status.Phase == kargov1.PromotionFailed {
				failed, found = p, true
			}
		}
		g.Expect(found).To(BeTrue(), "no failed promotion of 1.0.2 to test yet")
	}, timeout, poll).Should(Succeed())
	t.Logf("1.0.2 failed in test: %s", failed.Status.Message)
	// Either the failed task was seen first, or Swarm's update monitor
	// paused the update (failureAction pause, the default) before.
	g.Expect(failed.Status.Message).To(Or(ContainSubstring("task failure"), ContainSubstring("update of service app-test-web paused")))
	g.Expect(failed.Status.Rollback).NotTo(BeEmpty(), "no rollback promotion recorded")
	rollback := &kargov1.Promotion{ObjectMeta: metav1.ObjectMeta{Name: failed.Status.Rollback, Namespace: f.namespace}}
	f.waitPhase(rollback, kargov1.PromotionSucceeded)
	g.Expect(rollback.Labels[kargov1.PromotionCauseLabel]).To(Equal(kargov1.PromotionCauseRollback))
	g.Expect(rollback.Spec.Freight).To(Equal(f101.Name))
	f.Eventually(test, func(g Gomega) {
		g.Expect(test.Status.CurrentFreight.Name).To(Equal(f101.Name))
		g.Expect(test.Status.FreightHistory).NotTo(BeEmpty())
		g.Expect(test.Status.FreightHistory[0].Promotion).To(Equal(rollback.Name))
		g.Expect(test.Status.FreightHistory[1].Phase).To(Equal(kargov1.PromotionFailed))
		testenv.ExpectReady(g, test)
	})
	f.Eventually(&kargov1.Stack{ObjectMeta: metav1.ObjectMeta{Name: "app-test", Namespace: f.namespace}}, func(g Gomega) {
		g.Expect(f.runningImage("app-test")).To(HaveSuffix("@" + d101))
	})
	// Auto-promotion does not try 1.0.2 again, and prod never sees it.
	time.Sleep(3 * time.Second)
	var list kargov1.PromotionList
	g.Expect(k8s.List(f.ctx, &list, client.InNamespace(f.namespace))).To(Succeed())
	attempts := 0
	for _, p := range list.Items {
		g.Expect(p.Spec.Stage == "prod" && p.Spec.Freight == f102.Name).To(BeFalse(), "1.0.2 was promoted to prod")
		if p.Spec.Freight == f102.Name {
			attempts++
		}
	}
	g.Expect(attempts).To(Equal(1), "1.0.2 promoted to test more than once")
	g.Expect(k8s.Get(f.ctx, client.ObjectKeyFromObject(f102), f102)).To(Succeed())
	g.Expect(f102.Status.VerifiedIn).To(BeEmpty())
	g.Expect(k8s.Get(f.ctx, client.ObjectKeyFromObject(prod), prod)).To(Succeed())
	g.Expect(prod.Status.CurrentFreight.Name).To(Equal(f101.Name))
	g.Expect(f.runningImage("app-prod")).To(HaveSuffix("@" + d101))

	in := func(stage, phase string) map[string]string {
		return map[string]string{"namespace": f.namespace, "stage": stage, "phase": phase}
	}
	g.Expect(metricSum(f.fixture, "kargo_promotions_total", in("test", "Failed"))).To(BeEquivalentTo(1), "promotions failed in test")
	g.Expect(metricSum(f.fixture, "kargo_promotions_total", in("test", "Succeeded"))).To(BeEquivalentTo(3), "1.0.0, 1.0.1 and the rollback to 1.0.1")
	g.Expect(metricSum(f.fixture, "kargo_promotions_total", in("prod", "Succeeded"))).To(BeEquivalentTo(2))
	g.Expect(metricSum(f.fixture, "kargo_promotion_duration_seconds", map[string]string{"namespace": f.namespace, "stage": "prod"})).To(BeEquivalentTo(2))
}

// TestVerificationJobFailure runs a Stage's verification job on the Swarm:
// one that exits 1 fails the Promotion with the tail of its output; the
// job's service is removed.
func TestVerificationJobFailure(t *testing.T) {
	f := newPromotionFixture(t)
	d100 := f.push("1.0.0", false)
	f.appStack("app-test", "1.0.0")
	job := &kargov1.VerificationJob{
		Image:    "kargo.local/busybox:1",
		Command:  []string{"sh", "-c", "for i in $(seq 1 30); do echo line $i; done; sleep 1; echo smoke test failed: HTTP 503 >&2; exit 1"},
		Networks: []string{"back"},
		Timeout:  &metav1.Duration{Duration: scaled(time.Minute)},
	}
	f.stage("test", "", "app-test", false, job)
	p, err := f.promote("test", f.freightOf("1.0.0", d100))
	f.g.Expect(err).NotTo(HaveOccurred())
	f.waitPhase(p, kargov1.PromotionFailed)
	t.Logf("message: %s", p.Status.Message)
	f.g.Expect(p.Status.Message).To(SatisfyAll(ContainSubstring("verification job exited 1"), ContainSubstring("smoke test failed: HTTP 503"), ContainSubstring("line 30")))
	f.g.Expect(p.Status.Message).NotTo(ContainSubstring("line 1\n"), "the output is a tail, not all of it")
	f.g.Expect(p.Status.JobService).NotTo(BeEmpty())
	_, _, err = docker.ServiceInspectWithRaw(f.ctx, p.Status.JobService, dockerswarm.ServiceInspectOptions{})
	f.g.Expect(err).To(HaveOccurred(), "the job's service must be removed")
	var steps []string
	for _, s := range p.Status.Steps {
		steps = append(steps, s.Name+"="+string(s.Phase))
	}
	f.g.Expect(steps).To(Equal([]string{"SetImages=Succeeded", "WaitReady=Succeeded", "Verify=Failed"}))
}

// TestPromotionNeedsUpstreamVerification promotes to prod Freight that
// test has not verified: refused, with the reason; once approved for prod
// (kargo approve), the same promotion is accepted and succeeds.
func TestPromotionNeedsUpstreamVerification(t *testing.T) {
	f := newPromotionFixture(t)
	d100 := f.push("1.0.0", false)
	f.appStack("app-prod", "1.0.0")
	f.stage("prod", "test", "app-prod", false, nil)
	fr := f.freightOf("1.0.0", d100)
	refused := "not verified in test"
	if p, err := f.promote("prod", fr); err != nil {
		f.g.Expect(err.Error()).To(ContainSubstring(refused))
	} else {
		f.waitPhase(p, kargov1.PromotionErrored)
		f.g.Expect(p.Status.Message).To(ContainSubstring(refused))
	}
	f.g.Expect(k8s.Get(f.ctx, client.ObjectKeyFromObject(fr), fr)).To(Succeed())
	now := metav1.Now()
	fr.Status.ApprovedFor = append(fr.Status.ApprovedFor, kargov1.FreightStageRecord{Stage: "prod", Time: &now})
	f.g.Expect(k8s.Status().Update(f.ctx, fr)).To(Succeed())
	p, err := f.promote("prod", fr)
	f.g.Expect(err).NotTo(HaveOccurred())
	f.waitPhase(p, kargov1.PromotionSucceeded)
	f.g.Expect(f.runningImage("app-prod")).To(HaveSuffix("@" + d100))
}

// TestPromotionsRunOneAtATime creates two Promotions for one Stage at once:
// the second waits for the first to end, never running beside it.
func TestPromotionsRunOneAtATime(t *testing.T) {
	f := newPromotionFixture(t)
	d100, d101 := f.push("1.0.0", false), f.push("1.0.1", false)
	f.appStack("app-test", "1.0.0")
	f.stage("test", "", "app-test", false, nil)
	first, err := f.promote("test", f.freightOf("1.0.0", d100))
	f.g.Expect(err).NotTo(HaveOccurred())
	second, err := f.promote("test", f.freightOf("1.0.1", d101))
	f.g.Expect(err).NotTo(HaveOccurred())

	ctx, cancel := context.WithTimeout(f.ctx, timeout)
	defer cancel()
	sawWaiting := false
	for ctx.Err() == nil {
		var list kargov1.PromotionList
		f.g.Expect(k8s.List(ctx, &list, client.InNamespace(f.namespace))).To(Succeed())
		running, done := 0, 0
		for _, p := range list.Items {
			switch {
			case p.Status.Phase == kargov1.PromotionRunning:
				running++
			case p.Status.Phase.Terminal():
				done++
			case p.Name == second.Name && strings.Contains(p.Status.Message, first.Name):
				sawWaiting = true
			}
		}
		f.g.Expect(running).To(BeNumerically("<=", 1), "two promotions of one Stage ran together")
		if done == 2 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	f.waitPhase(first, kargov1.PromotionSucceeded)
	f.waitPhase(second, kargov1.PromotionSucceeded)
	f.g.Expect(sawWaiting).To(BeTrue(), "the second promotion never said it waited for the first")
	f.g.Expect(second.Status.StartedAt.Time).NotTo(BeTemporally("<", first.Status.FinishedAt.Time), "the second started before the first ended")
	f.g.Expect(f.runningImage("app-test")).To(HaveSuffix("@" + d101))
}
