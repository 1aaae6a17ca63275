package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/promotion"
	"github.com/kargo-io/kargo/internal/table"
)

// promoteOptions are kargo promote's flags.
type promoteOptions struct {
	cluster clusterOptions
	stage   string
	freight string
	newest  bool
	wait    bool
	timeout time.Duration
}

func newPromoteCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "promote --stage NAME (--freight NAME|ALIAS | --newest) [-n NAMESPACE] [--wait [--timeout DURATION]]",
		Short: "Promote Freight to a Stage",
		Long: `Creates a Promotion of the Freight (by name or alias) to the Stage and prints
its name; --newest promotes the newest Freight eligible for the Stage.

The Freight must be eligible for the Stage: from a Warehouse the Stage
requests, and taken from it directly, or verified in one of the Stage's
upstream Stages, or approved for the Stage (kargo approve). Anything else
is refused here, with the reason, before a Promotion is created.

The Promotion is labelled as made by a person (promotion-cause: Manual).
Promotions of a Stage run one at a time, in creation order. With --wait,
kargo promote waits until the Promotion ends, then prints its steps; the
exit status is 0 only when it Succeeded.

Creating a Promotion takes the RBAC verb promote on the Stage.`,
		Example: `  kargo promote -n shop --stage test --freight sleepy-otter
  kargo promote -n shop --stage prod --newest --wait

  # output of --wait
  prod-7xk2q
  STEP       PHASE      DURATION  MESSAGE
  SetImages  Succeeded  0s        set 1 image of stack web
  WaitReady  Succeeded  12s       stack web Ready for generation 4
  Verify     Succeeded  2m0s      soaked 2m0s with no task failure
  Done       Succeeded  0s
  promotion prod-7xk2q Succeeded`,
	}
	var o promoteOptions
	o.cluster.addFlags(cmd, "namespace of the Stage and the Freight")
	cmd.Flags().StringVar(&o.stage, "stage", "", "the Stage NAME to promote to (required)")
	cmd.Flags().StringVar(&o.freight, "freight", "", "the Freight to promote, by NAME or ALIAS")
	cmd.Flags().BoolVar(&o.newest, "newest", false, "promote the newest Freight eligible for the Stage")
	cmd.Flags().BoolVar(&o.wait, "wait", false, "wait until the Promotion ends and print its steps")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 30*time.Minute, "with --wait, how long to wait")
	cmd.MarkFlagsMutuallyExclusive("freight", "newest")
	o.cluster.completeStages(cmd)
	o.cluster.completeFreight(cmd)
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		switch {
		case o.stage == "":
			return errNoStage
		case o.freight == "" && !o.newest:
			return errors.New("--freight or --newest: say which Freight to promote")
		}
		k8s, namespace, err := o.cluster.connect()
		if err != nil {
			return err
		}
		return runPromote(c.Context(), k8s, namespace, o, c.OutOrStdout(), c.ErrOrStderr())
	}
	return cmd
}

func runPromote(ctx context.Context, k8s client.Client, namespace string, o promoteOptions, stdout, stderr io.Writer) error {
	stage, err := getStage(ctx, k8s, namespace, o.stage)
	if err != nil {
		return err
	}
	var freight *kargov1.Freight
	if o.newest {
		freights, err := listFreight(ctx, k8s, namespace)
		if err != nil {
			return err
		}
		if freight, err = promotion.Newest(stage, freights); err != nil {
			return err
		}
	} else {
		if freight, err = findFreight(ctx, k8s, namespace, o.freight); err != nil {
			return err
		}
		if err := promotion.Eligible(stage, freight); err != nil {
			return fmt.Errorf("%w (kargo approve --freight %s --stage %s approves it)", err, o.freight, stage.Name)
		}
	}
	promo := &kargov1.Promotion{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:    namespace,
			GenerateName: stage.Name + "-",
			Labels: map[string]string{
				kargov1.PromotionCauseLabel: kargov1.PromotionCauseManual,
				kargov1.StageLabel:          stage.Name,
			},
		},
		Spec: kargov1.PromotionSpec{Stage: stage.Name, Freight: freight.Name},
	}
	if err := k8s.Create(ctx, promo); err != nil {
		return fmt.Errorf("create promotion of freight %s to stage %s: %w", freight.Name, stage.Name, err)
	}
	fmt.Fprintln(stdout, promo.Name)
	fmt.Fprintf(stderr, "promoting freight %s to stage %s\n", freightString(freight), stage.Name)
	if !o.wait {
		return nil
	}
	return waitPromotion(ctx, k8s, promo, o.timeout, stdout, stderr)
}

// promotionPoll is how often kargo promote --wait reads the Promotion.
var promotionPoll = time.Second

// waitPromotion waits until the Promotion is over, saying on stderr when
// its phase or step changes, then prints its steps; an error unless it
// Succeeded.
func waitPromotion(ctx context.Context, k8s client.Client, promo *kargov1.Promotion, timeout time.Duration, stdout, stderr io.Writer) error {
	last := ""
	err := wait.PollUntilContextTimeout(ctx, promotionPoll, timeout, true, func(ctx context.Context) (bool, error) {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(promo), promo); err != nil {
			return false, fmt.Errorf("get promotion %s: %w", promo.Name, err)
		}
		now := string(promo.Status.Phase)
		if n := len(promo.Status.Steps); n > 0 && !promo.Status.Phase.Terminal() {
			now += " (" + promo.Status.Steps[n-1].Name + ")"
		}
		if now != last && now != "" {
			fmt.Fprintf(stderr, "promotion %s: %s\n", promo.Name, now)
			last = now
		}
		return promo.Status.Phase.Terminal(), nil
	})
	if wait.Interrupted(err) {
		return fmt.Errorf("promotion %s: still %s after %s", promo.Name, table.OrDash(string(promo.Status.Phase)), timeout)
	}
	if err != nil {
		return err
	}
	if err := writeSteps(stdout, promo.Status.Steps); err != nil {
		return err
	}
	if promo.Status.Phase != kargov1.PromotionSucceeded {
		return fmt.Errorf("promotion %s %s: %s", promo.Name, promo.Status.Phase, promo.Status.Message)
	}
	fmt.Fprintf(stdout, "promotion %s %s\n", promo.Name, promo.Status.Phase)
	return nil
}

// writeSteps writes a Promotion's steps as a table.
func writeSteps(w io.Writer, steps []kargov1.PromotionStep) error {
	tw := table.New(w)
	if err := tw.Row("STEP", "PHASE", "DURATION", "MESSAGE"); err != nil {
		return err
	}
	for _, s := range steps {
		took := "-"
		if s.StartedAt != nil && s.FinishedAt != nil {
			took = s.FinishedAt.Sub(s.StartedAt.Time).Round(time.Second).String()
		}
		if err := tw.Row(s.Name, string(s.Phase), took, s.Message); err != nil {
			return err
		}
	}
	return tw.Flush()
}
