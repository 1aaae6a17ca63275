package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/testenv"
	"github.com/kargo-io/kargo/internal/testmanager"
)

// The promotion commands are tested against a real kube-apiserver
// (envtest) of their own, without a manager: the tests create the Stages
// and Freight and write their status through the status subresource, as
// the Warehouse and Stage reconcilers would; for --wait, the test writes
// the Promotion's status as the Promotion reconciler would. The API
// server starts on the first test that needs it; TestMain stops it.

type promoteEnv struct {
	k8s        client.Client
	kubeconfig string
	stop       func()
}

var (
	promoteEnvOnce    sync.Once
	promoteEnvStarted *promoteEnv
	promoteEnvErr     error
)

func promoteEnvironment(t *testing.T) *promoteEnv {
	t.Helper()
	promoteEnvOnce.Do(func() {
		env, cfg, err := testenv.StartAPIServer()
		if err != nil {
			promoteEnvErr = err
			return
		}
		// The API server admits Promotions and approvals through Kargo's
		// webhook; nothing reconciles them.
		hooks, err := testmanager.StartWebhooks(env)
		if err != nil {
			_ = env.Stop()
			promoteEnvErr = err
			return
		}
		stop := func() {
			hooks.Stop()
			_ = env.Stop()
		}
		kubeconfig, err := testenv.WriteKubeconfig(env)
		if err != nil {
			stop()
			promoteEnvErr = err
			return
		}
		k8s, err := client.New(cfg, client.Options{Scheme: clusterScheme})
		if err != nil {
			stop()
			os.Remove(kubeconfig)
			promoteEnvErr = err
			return
		}
		promoteEnvStarted = &promoteEnv{k8s: k8s, kubeconfig: kubeconfig, stop: func() {
			stop()
			os.Remove(kubeconfig)
		}}
	})
	if promoteEnvErr != nil {
		t.Fatal(promoteEnvErr)
	}
	return promoteEnvStarted
}

// promoteFixture is one test's namespace with the Stages test (Freight
// of the Warehouse app, directly) and prod (app, verified in test), and
// two Freight of app: sleepy-otter, then brave-heron (created after it,
// and with the greater name, so that it is the newer either way).
type promoteFixture struct {
	*testenv.Namespace
	t         *testing.T
	g         *WithT
	e         *promoteEnv
	ctx       context.Context
	namespace string
	old, new  *kargov1.Freight
}

const (
	oldFreight = "3f5a9c0e1d2b4a6978c1e0f2a3b4c5d6e7f80912"
	newFreight = "9b8e7d6c5b4a39281706f5e4d3c2b1a098765432"
)

func newPromoteFixture(t *testing.T) *promoteFixture {
	e := promoteEnvironment(t)
	ns := testenv.NewNamespace(t, e.k8s, "kp-", time.Minute, 250*time.Millisecond)
	f := &promoteFixture{Namespace: ns, t: t, g: NewWithT(t), e: e, ctx: ns.Ctx, namespace: ns.Name}
	f.stage("test", kargov1.FreightSources{Direct: true})
	f.stage("prod", kargov1.FreightSources{Stages: []string{"test"}})
	f.old = f.freight(oldFreight, "sleepy-otter", "1.0.1", "a")
	f.new = f.freight(newFreight, "brave-heron", "1.0.2", "b")
	return f
}

func (f *promoteFixture) stage(name string, sources kargov1.FreightSources) {
	f.t.Helper()
	f.Create(&kargov1.Stage{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.namespace, Name: name},
		Spec: kargov1.StageSpec{
			RequestedFreight: []kargov1.FreightRequest{{Origin: kargov1.FreightOrigin{Name: "app"}, Sources: sources}},
			Targets:          []kargov1.StageTarget{{Stack: "web"}},
		},
	})
}

// freight creates a Freight of one image app:tag, its digest all of the
// hex digit d.
func (f *promoteFixture) freight(name, alias, tag, d string) *kargov1.Freight {
	f.t.Helper()
	fr := &kargov1.Freight{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.namespace, Name: name, Labels: map[string]string{kargov1.AliasLabel: alias}},
		Alias:      alias,
		Spec: kargov1.FreightSpec{
			Origin: kargov1.FreightOrigin{Name: "app"},
			Images: []kargov1.FreightImage{{RepoURL: "127.0.0.1:5000/app", Tag: tag, Digest: "sha256:" + strings.Repeat(d, 64)}},
		},
	}
	f.Create(fr)
	return fr
}

// verify records the Freight as verified in the Stage, as the Stage
// reconciler does.
func (f *promoteFixture) verify(fr *kargov1.Freight, stage string) {
	f.t.Helper()
	f.g.Expect(f.e.k8s.Get(f.ctx, client.ObjectKeyFromObject(fr), fr)).To(Succeed())
	now := metav1.Now()
	fr.Status.VerifiedIn = append(fr.Status.VerifiedIn, kargov1.FreightStageRecord{Stage: stage, Time: &now})
	f.g.Expect(f.e.k8s.Status().Update(f.ctx, fr)).To(Succeed())
}

// kargo runs the kargo subcommand args[0] against the test's namespace
// (unless args name another).
func (f *promoteFixture) kargo(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(append([]string{args[0], "-n", f.namespace, "--kubeconfig", f.e.kubeconfig}, args[1:]...), &out, &errb)
	return code, out.String(), errb.String()
}

// promotions are the Promotions of the namespace.
func (f *promoteFixture) promotions() []kargov1.Promotion {
	f.t.Helper()
	var list kargov1.PromotionList
	f.g.Expect(f.e.k8s.List(f.ctx, &list, client.InNamespace(f.namespace))).To(Succeed())
	return list.Items
}

// expectPromoted runs kargo promote and checks the Promotion it made.
func (f *promoteFixture) expectPromoted(stage, freight string, args ...string) *kargov1.Promotion {
	f.t.Helper()
	code, out, stderr := f.kargo(append([]string{"promote", "--stage", stage}, args...)...)
	f.g.Expect(code).To(Equal(0), "stderr: %s", stderr)
	name := strings.TrimSpace(out)
	f.g.Expect(name).To(HavePrefix(stage + "-"))
	promo := &kargov1.Promotion{}
	f.g.Expect(f.e.k8s.Get(f.ctx, client.ObjectKey{Namespace: f.namespace, Name: name}, promo)).To(Succeed())
	f.g.Expect(promo.Spec).To(Equal(kargov1.PromotionSpec{Stage: stage, Freight: freight}))
	f.g.Expect(promo.Labels).To(Equal(map[string]string{
		kargov1.PromotionCauseLabel: kargov1.PromotionCauseManual,
		kargov1.StageLabel:          stage,
	}))
	return promo
}

// TestPromote: kargo promote by name, by alias and --newest; Freight not
// eligible is refused with the reason and no Promotion; after kargo
// approve it is accepted. kargo approve records who approved, once.
func TestPromote(t *testing.T) {
	f := newPromoteFixture(t)

	f.expectPromoted("test", oldFreight, "--freight", "sleepy-otter")
	f.expectPromoted("test", newFreight, "--freight", newFreight)
	f.expectPromoted("test", newFreight, "--newest")

	// Not verified in test: refused, nothing created.
	code, out, stderr := f.kargo("promote", "--stage", "prod", "--freight", "sleepy-otter")
	f.g.Expect(code).To(Equal(1))
	f.g.Expect(out).To(BeEmpty())
	f.g.Expect(stderr).To(Equal("kargo: freight " + oldFreight + " is not verified in test (upstream of stage prod) nor approved for stage prod" +
		" (kargo approve --freight sleepy-otter --stage prod approves it)\n"))
	code, _, stderr = f.kargo("promote", "--stage", "prod", "--newest")
	f.g.Expect(code).To(Equal(1))
	f.g.Expect(stderr).To(Equal("kargo: stage prod: no eligible freight\n"))
	f.g.Expect(f.promotions()).To(HaveLen(3))

	// Verified in test: prod takes it, and --newest picks it over the
	// newer brave-heron, which is not.
	f.verify(f.old, "test")
	f.expectPromoted("prod", oldFreight, "--newest")

	// Approved for prod: brave-heron goes there unverified.
	before := time.Now().Add(-time.Second)
	code, out, stderr = f.kargo("approve", "--freight", "brave-heron", "--stage", "prod")
	f.g.Expect(code).To(Equal(0), "stderr: %s", stderr)
	f.g.Expect(out).To(Equal("freight brave-heron (9b8e7d6) approved for stage prod\n"))
	code, out, _ = f.kargo("approve", "--freight", newFreight, "--stage", "prod")
	f.g.Expect(code).To(Equal(0))
	f.g.Expect(out).To(Equal("freight brave-heron (9b8e7d6) already approved for stage prod\n"))
	f.g.Expect(f.e.k8s.Get(f.ctx, client.ObjectKeyFromObject(f.new), f.new)).To(Succeed())
	f.g.Expect(f.new.Status.ApprovedFor).To(HaveLen(1))
	rec := f.new.Status.ApprovedFor[0]
	f.g.Expect(rec.Stage).To(Equal("prod"))
	f.g.Expect(rec.By).To(Equal("kargo-test-admin")) // the kubeconfig's user, as the API server saw it
	f.g.Expect(rec.Time).NotTo(BeNil())
	f.g.Expect(rec.Time.Time).To(BeTemporally(">=", before))
	f.expectPromoted("prod", newFreight, "--freight", "brave-heron")
	f.expectPromoted("prod", newFreight, "--newest")
}

// TestPromoteErrors: bad input gets an error naming the flag or the
// object, and creates nothing.
func TestPromoteErrors(t *testing.T) {
	f := newPromoteFixture(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"promote", "--freight", "sleepy-otter"}, "kargo: --stage: required (the Stage's name)\n"},
		{[]string{"promote", "--stage", "test"}, "kargo: --freight or --newest: say which Freight to promote\n"},
		{[]string{"promote", "--stage", "nope", "--newest"}, "kargo: stage nope: not found in namespace " + f.namespace + "\n"},
		{[]string{"promote", "--stage", "test", "--freight", "lazy-cat"},
			"kargo: freight lazy-cat: no Freight of namespace " + f.namespace + " has this name or alias (kargo freight lists them)\n"},
		{[]string{"approve", "--stage", "prod"}, "kargo: --freight: required (the Freight's name or alias)\n"},
		{[]string{"approve", "--freight", "brave-heron", "--stage", "nope"}, "kargo: stage nope: not found in namespace " + f.namespace + "\n"},
		{[]string{"freight", "-o", "wide"}, "kargo: --output: unknown format \"wide\" (table, yaml or json)\n"},
		{[]string{"pipeline", "-o", "svg"}, "kargo: --output: unknown format \"svg\" (text or dot)\n"},
	} {
		code, out, stderr := f.kargo(tc.args...)
		f.g.Expect(code).To(Equal(1), "%v", tc.args)
		f.g.Expect(out).To(BeEmpty(), "%v", tc.args)
		f.g.Expect(stderr).To(Equal(tc.want), "%v", tc.args)
	}
	f.g.Expect(f.promotions()).To(BeEmpty())
	f.g.Expect(f.e.k8s.Get(f.ctx, client.ObjectKeyFromObject(f.new), f.new)).To(Succeed())
	f.g.Expect(f.new.Status.ApprovedFor).To(BeEmpty())

	// Approving Freight of a Warehouse the Stage does not request would
	// not make it eligible: refused.
	db := &kargov1.Freight{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.namespace, Name: strings.Repeat("d", 40)},
		Spec: kargov1.FreightSpec{
			Origin: kargov1.FreightOrigin{Name: "db"},
			Images: []kargov1.FreightImage{{RepoURL: "127.0.0.1:5000/db", Digest: "sha256:" + strings.Repeat("d", 64)}},
		},
	}
	f.Create(db)
	code, _, stderr := f.kargo("approve", "--freight", db.Name, "--stage", "prod")
	f.g.Expect(code).To(Equal(1))
	f.g.Expect(stderr).To(Equal("kargo: freight " + db.Name + " comes from Warehouse db, which stage prod does not request (spec.requestedFreight)\n"))
	f.g.Expect(f.e.k8s.Get(f.ctx, client.ObjectKeyFromObject(db), db)).To(Succeed())
	f.g.Expect(db.Status.ApprovedFor).To(BeEmpty())

	// Two Freight sharing an alias: the alias names neither.
	f.freight(strings.Repeat("c", 40), "sleepy-otter", "1.0.3", "c")
	code, _, stderr = f.kargo("promote", "--stage", "test", "--freight", "sleepy-otter")
	f.g.Expect(code).To(Equal(1))
	f.g.Expect(stderr).To(Equal("kargo: freight sleepy-otter: the alias of 2 Freight (" + strings.Repeat("c", 40) + ", " + oldFreight + "): name one\n"))
}

// TestPromoteWait: --wait follows the Promotion until it ends, prints its
// steps, and exits 0 only when it Succeeded. The test writes the
// Promotion's status as the Promotion reconciler does.
func TestPromoteWait(t *testing.T) {
	f := newPromoteFixture(t)
	old := promotionPoll
	promotionPoll = 50 * time.Millisecond
	t.Cleanup(func() { promotionPoll = old })

	t0 := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	at := func(d time.Duration) *metav1.Time { t := metav1.NewTime(t0.Add(d)); return &t }
	for _, tc := range []struct {
		name  string
		phase kargov1.PromotionPhase
		steps []kargov1.PromotionStep
		code  int
		out   string // after the Promotion's name
		err   string
	}{{
		name:  "succeeded",
		phase: kargov1.PromotionSucceeded,
		steps: []kargov1.PromotionStep{
			{Name: kargov1.StepSetImages, Phase: kargov1.PromotionSucceeded, StartedAt: &t0, FinishedAt: &t0, Message: "set 1 image of stack web"},
			{Name: kargov1.StepWaitReady, Phase: kargov1.PromotionSucceeded, StartedAt: &t0, FinishedAt: at(12 * time.Second), Message: "stack web Ready"},
			{Name: kargov1.StepVerify, Phase: kargov1.PromotionSucceeded, StartedAt: at(12 * time.Second), FinishedAt: at(132 * time.Second), Message: "verification job succeeded: smoke ok\n2 checks passed"},
			{Name: kargov1.StepDone, Phase: kargov1.PromotionSucceeded, StartedAt: at(132 * time.Second), FinishedAt: at(132 * time.Second)},
		},
		out: "STEP       PHASE      DURATION  MESSAGE\n" +
			"SetImages  Succeeded  0s        set 1 image of stack web\n" +
			"WaitReady  Succeeded  12s       stack web Ready\n" +
			"Verify     Succeeded  2m0s      verification job succeeded: smoke ok\n" +
			"                                2 checks passed\n" +
			"Done       Succeeded  0s\n" +
			"promotion NAME Succeeded\n",
	}, {
		name:  "failed",
		phase: kargov1.PromotionFailed,
		steps: []kargov1.PromotionStep{
			{Name: kargov1.StepSetImages, Phase: kargov1.PromotionSucceeded, StartedAt: &t0, FinishedAt: &t0},
			{Name: kargov1.StepWaitReady, Phase: kargov1.PromotionFailed, StartedAt: &t0, Message: "stack web rolled back"},
		},
		code: 1,
		out: "STEP       PHASE      DURATION  MESSAGE\n" +
			"SetImages  Succeeded  0s\n" +
			"WaitReady  Failed     -         stack web rolled back\n",
		err: "kargo: promotion NAME Failed: verification failed: stack web rolled back\n",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			type result struct {
				code        int
				out, stderr string
			}
			done := make(chan result, 1)
			go func() {
				code, out, stderr := f.kargo("promote", "--stage", "test", "--freight", "sleepy-otter", "--wait", "--timeout", "1m")
				done <- result{code, out, stderr}
			}()
			var promo *kargov1.Promotion
			g.Eventually(func(g Gomega) {
				list := f.promotions()
				g.Expect(list).To(HaveLen(1))
				promo = &list[0]
			}, time.Minute, 50*time.Millisecond).Should(Succeed())
			t.Cleanup(func() { g.Expect(f.e.k8s.Delete(f.ctx, promo)).To(Succeed()) })
			// Running, then over: the command waits for the end.
			promo.Status = kargov1.PromotionStatus{Phase: kargov1.PromotionRunning, Steps: tc.steps[:1]}
			g.Expect(f.e.k8s.Status().Update(f.ctx, promo)).To(Succeed())
			g.Consistently(done, 300*time.Millisecond).ShouldNot(Receive())
			promo.Status = kargov1.PromotionStatus{Phase: tc.phase, Steps: tc.steps}
			if tc.phase == kargov1.PromotionFailed {
				promo.Status.Message = "verification failed: stack web rolled back"
			}
			g.Expect(f.e.k8s.Status().Update(f.ctx, promo)).To(Succeed())
			var r result
			g.Eventually(done, time.Minute).Should(Receive(&r))
			g.Expect(r.code).To(Equal(tc.code), "stderr: %s", r.stderr)
			g.Expect(r.out).To(Equal(promo.Name + "\n" + strings.ReplaceAll(tc.out, "NAME", promo.Name)))
			g.Expect(r.stderr).To(ContainSubstring("promotion " + promo.Name + ": Running (SetImages)\n"))
			g.Expect(r.stderr).To(HaveSuffix(strings.ReplaceAll(tc.err, "NAME", promo.Name)))
		})
	}
}

// TestFreightCommand: kargo freight lists the namespace's Freight newest
// first; --stage only those eligible, marking the current one; -o yaml
// and -o json the same Freight as objects.
func TestFreightCommand(t *testing.T) {
	f := newPromoteFixture(t)
	f.verify(f.old, "test")

	code, out, stderr := f.kargo("freight")
	f.g.Expect(code).To(Equal(0), "stderr: %s", stderr)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	f.g.Expect(lines).To(HaveLen(3))
	f.g.Expect(strings.Fields(lines[0])).To(Equal([]string{"ALIAS", "NAME", "IMAGES", "VERIFIED", "IN", "APPROVED", "FOR", "AGE"}))
	f.g.Expect(strings.Fields(lines[1])[:5]).To(Equal([]string{"brave-heron", "9b8e7d6", "127.0.0.1:5000/app:1.0.2@sha256:bbbbbbb", "-", "-"}))
	f.g.Expect(strings.Fields(lines[2])[:5]).To(Equal([]string{"sleepy-otter", "3f5a9c0", "127.0.0.1:5000/app:1.0.1@sha256:aaaaaaa", "test", "-"}))

	// prod holds sleepy-otter; brave-heron is not eligible there.
	stage := &kargov1.Stage{}
	f.g.Expect(f.e.k8s.Get(f.ctx, client.ObjectKey{Namespace: f.namespace, Name: "prod"}, stage)).To(Succeed())
	stage.Status.CurrentFreight = &kargov1.FreightReference{Name: oldFreight, Alias: "sleepy-otter"}
	f.g.Expect(f.e.k8s.Status().Update(f.ctx, stage)).To(Succeed())
	code, out, stderr = f.kargo("freight", "--stage", "prod")
	f.g.Expect(code).To(Equal(0), "stderr: %s", stderr)
	lines = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	f.g.Expect(lines).To(HaveLen(2))
	f.g.Expect(strings.Fields(lines[0])[:2]).To(Equal([]string{"CURRENT", "ALIAS"}))
	f.g.Expect(strings.Fields(lines[1])[:3]).To(Equal([]string{"*", "sleepy-otter", "3f5a9c0"}))
	code, out, stderr = f.kargo("freight", "--stage", "test")
	f.g.Expect(code).To(Equal(0), "stderr: %s", stderr)
	f.g.Expect(strings.Split(strings.TrimSuffix(out, "\n"), "\n")).To(HaveLen(3))

	for _, format := range []string{"yaml", "json"} {
		code, out, stderr = f.kargo("freight", "--stage", "prod", "-o", format)
		f.g.Expect(code).To(Equal(0), "stderr: %s", stderr)
		var list kargov1.FreightList
		if format == "json" {
			f.g.Expect(json.Unmarshal([]byte(out), &list)).To(Succeed())
		} else {
			f.g.Expect(yaml.UnmarshalStrict([]byte(out), &list)).To(Succeed())
		}
		f.g.Expect(list.Kind).To(Equal("FreightList"))
		f.g.Expect(list.Items).To(HaveLen(1))
		f.g.Expect(list.Items[0].Kind).To(Equal("Freight"))
		f.g.Expect(list.Items[0].Name).To(Equal(oldFreight))
		f.g.Expect(list.Items[0].Spec).To(Equal(f.old.Spec))
	}

	code, out, stderr = f.kargo("freight", "-n", "kp-empty-"+utilrand.String(4))
	f.g.Expect(code).To(Equal(0))
	f.g.Expect(out).To(BeEmpty())
	f.g.Expect(stderr).To(HavePrefix("no Freight in namespace kp-empty-"))
}

// TestPipelineCommand: kargo pipeline reads the namespace's Stages and
// writes the tree, or DOT (the renderings have golden tests in
// internal/pipeline).
func TestPipelineCommand(t *testing.T) {
	f := newPromoteFixture(t)
	stage := &kargov1.Stage{}
	f.g.Expect(f.e.k8s.Get(f.ctx, client.ObjectKey{Namespace: f.namespace, Name: "test"}, stage)).To(Succeed())
	stage.Status.CurrentFreight = &kargov1.FreightReference{Name: oldFreight, Alias: "sleepy-otter"}
	stage.Status.Health = kargov1.HealthHealthy
	stage.Status.LastPromotion = &kargov1.PromotionReference{Name: "test-1", Freight: *stage.Status.CurrentFreight, Phase: kargov1.PromotionSucceeded}
	f.g.Expect(f.e.k8s.Status().Update(f.ctx, stage)).To(Succeed())

	code, out, stderr := f.kargo("pipeline")
	f.g.Expect(code).To(Equal(0), "stderr: %s", stderr)
	f.g.Expect(out).To(Equal("STAGE          FREIGHT       HEALTH   LAST PROMOTION  AUTO\n" +
		"Warehouse app\n" +
		"└─ test        sleepy-otter  Healthy  Succeeded\n" +
		"   └─ prod     -             -        -\n"))
	code, out, stderr = f.kargo("pipeline", "-o", "dot")
	f.g.Expect(code).To(Equal(0), "stderr: %s", stderr)
	f.g.Expect(out).To(HavePrefix("digraph pipeline {\n"))
	f.g.Expect(out).To(ContainSubstring("\t\"stage/test\" -> \"stage/prod\";\n\t\"warehouse/app\" -> \"stage/test\";\n"))
}

// TestPromoteCompletion: the shell completes --stage with the Stages of
// the namespace and --freight with the aliases of its Freight, newest
// first, described by their images.
func TestPromoteCompletion(t *testing.T) {
	f := newPromoteFixture(t)
	complete := func(args ...string) string {
		var out, errb bytes.Buffer
		code := Main(append([]string{"__complete"}, args...), &out, &errb)
		f.g.Expect(code).To(Equal(0), "stderr: %s", errb.String())
		return out.String()
	}
	f.g.Expect(complete("promote", "-n", f.namespace, "--kubeconfig", f.e.kubeconfig, "--stage", "")).To(Equal("prod\ntest\n:4\n"))
	f.g.Expect(complete("approve", "-n", f.namespace, "--kubeconfig", f.e.kubeconfig, "--stage", "prod", "--freight", "")).To(Equal(
		"brave-heron\t127.0.0.1:5000/app:1.0.2@sha256:bbbbbbb\n" +
			"sleepy-otter\t127.0.0.1:5000/app:1.0.1@sha256:aaaaaaa\n" +
			":36\n"))
}
