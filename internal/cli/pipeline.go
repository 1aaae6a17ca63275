package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/pipeline"
)

func newPipelineCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pipeline [-n NAMESPACE] [-o text|dot]",
		Short: "Show the Stages of a namespace as a promotion pipeline",
		Long: `Shows the Stages of a namespace as a graph, upstream to downstream: the
Warehouses Stages take Freight from directly are the roots, a Stage is
below the Stages it takes verified Freight from (spec.requestedFreight).
Each Stage shows the Freight it holds (alias, else short name), the health
of its targets, the phase of its last Promotion, and whether it promotes
automatically. An upstream Stage that does not exist is shown as
(not found), a Stage of a cycle as (cycle).

-o text (the default) writes a tree; a Stage below several others is
written in full once and as (see above) after. -o dot writes the graph in
Graphviz's DOT language: pipe it to dot -Tsvg.`,
		Example: `  kargo pipeline -n shop
  kargo pipeline -n shop -o dot | dot -Tsvg > pipeline.svg

  # output
  STAGE          FREIGHT       HEALTH   LAST PROMOTION  AUTO
  Warehouse shop
  └─ test        brave-heron   Healthy  Succeeded       yes
     └─ prod     sleepy-otter  Healthy  Succeeded`,
	}
	var (
		o      clusterOptions
		output string
	)
	o.addFlags(cmd, "namespace of the Stages")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output FORMAT: text or dot")
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if output != "text" && output != "dot" {
			return fmt.Errorf("--output: unknown format %q (text or dot)", output)
		}
		k8s, namespace, err := o.connect()
		if err != nil {
			return err
		}
		return runPipeline(c.Context(), k8s, namespace, output, c.OutOrStdout(), c.ErrOrStderr())
	}
	return cmd
}

func runPipeline(ctx context.Context, k8s client.Client, namespace, output string, stdout, stderr io.Writer) error {
	var stages kargov1.StageList
	if err := k8s.List(ctx, &stages, client.InNamespace(namespace)); err != nil {
		return fmt.Errorf("list stages of namespace %s: %w", namespace, err)
	}
	g := pipeline.Build(stages.Items)
	if output == "dot" {
		// An empty graph still renders.
		return g.WriteDOT(stdout)
	}
	if len(stages.Items) == 0 {
		fmt.Fprintf(stderr, "no Stage in namespace %s\n", namespace)
		return nil
	}
	return g.WriteText(stdout)
}
