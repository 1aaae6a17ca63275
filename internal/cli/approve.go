package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/promotion"
)

func newApproveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "approve --freight NAME|ALIAS --stage NAME [-n NAMESPACE]",
		Short: "Approve Freight for a Stage, so it may be promoted there unverified upstream",
		Long: `Approves the Freight (by name or alias) for the Stage: it is recorded in the
Freight's status.approvedFor with the time and the user the API server
authenticated (left empty when the cluster does not tell, without the
SelfSubjectReview API). The Freight may then be promoted to the Stage
without having been verified in the Stage's upstream Stages; it must still
come from a Warehouse the Stage requests. Approving twice changes nothing.

Approving takes the RBAC verb promote on the Stage.`,
		Example: `  kargo approve -n shop --freight brave-heron --stage prod
  kargo promote -n shop --freight brave-heron --stage prod`,
	}
	var (
		o              clusterOptions
		freight, stage string
	)
	o.addFlags(cmd, "namespace of the Stage and the Freight")
	cmd.Flags().StringVar(&freight, "freight", "", "the Freight to approve, by NAME or ALIAS (required)")
	cmd.Flags().StringVar(&stage, "stage", "", "the Stage NAME it is approved for (required)")
	o.completeStages(cmd)
	o.completeFreight(cmd)
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		switch {
		case freight == "":
			return errors.New("--freight: required (the Freight's name or alias)")
		case stage == "":
			return errNoStage
		}
		k8s, namespace, err := o.connect()
		if err != nil {
			return err
		}
		return runApprove(c.Context(), k8s, namespace, freight, stage, c.OutOrStdout())
	}
	return cmd
}

func runApprove(ctx context.Context, k8s client.Client, namespace, freightRef, stageName string, stdout io.Writer) error {
	stage, err := getStage(ctx, k8s, namespace, stageName)
	if err != nil {
		return err
	}
	f, err := findFreight(ctx, k8s, namespace, freightRef)
	if err != nil {
		return err
	}
	what := "freight " + freightString(f)
	if _, err := promotion.Requested(stage, f); err != nil {
		// Approval would not make it eligible.
		return err
	}
	if f.IsApprovedFor(stage.Name) {
		fmt.Fprintf(stdout, "%s already approved for stage %s\n", what, stage.Name)
		return nil
	}
	by := whoAmI(ctx, k8s)
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(f), f); err != nil {
			return err
		}
		if f.IsApprovedFor(stage.Name) {
			return nil
		}
		now := metav1.Now()
		f.Status.ApprovedFor = append(f.Status.ApprovedFor, kargov1.FreightStageRecord{Stage: stage.Name, Time: &now, By: by})
		return k8s.Status().Update(ctx, f)
	})
	if err != nil {
		return fmt.Errorf("approve %s for stage %s: %w", what, stage.Name, err)
	}
	fmt.Fprintf(stdout, "%s approved for stage %s\n", what, stage.Name)
	return nil
}

// whoAmI is the user the API server authenticates the client as, "" when
// it does not tell (SelfSubjectReview refused or not served).
func whoAmI(ctx context.Context, k8s client.Client) string {
	review := &authenticationv1.SelfSubjectReview{}
	if err := k8s.Create(ctx, review); err != nil {
		return ""
	}
	return review.Status.UserInfo.Username
}
