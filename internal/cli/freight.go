package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/promotion"
	"github.com/kargo-io/kargo/internal/table"
)

func newFreightCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "freight [--stage NAME] [-n NAMESPACE] [-o table|yaml|json]",
		Short: "List the Freight of a namespace, or the Freight a Stage may take",
		Long: `Lists the Freight of a namespace, newest first: its alias, its name (a hash,
shortened), its images (repository:tag@digest, the digest shortened), the
Stages it was verified in and those it was approved for, and its age.

With --stage, only the Freight eligible for the Stage: from a Warehouse the
Stage requests, and taken from it directly, or verified in one of the
Stage's upstream Stages, or approved for the Stage (kargo approve). The
Freight the Stage holds is marked with * in the CURRENT column.

-o yaml and -o json print the same Freight as a list of objects.`,
		Example: `  kargo freight -n shop
  kargo freight -n shop --stage prod
  kargo freight -n shop -o yaml

  # output
  ALIAS         NAME     IMAGES                                      VERIFIED IN  APPROVED FOR  AGE
  brave-heron   1b7c2d9  registry.example.org/shop:1.0.2@sha256:5e0c11f  test         -             4m
  sleepy-otter  3f5a9c0  registry.example.org/shop:1.0.1@sha256:9a3b27d  test, prod   -             2d`,
	}
	var (
		o      clusterOptions
		stage  string
		output string
	)
	o.addFlags(cmd, "namespace of the Freight")
	cmd.Flags().StringVar(&stage, "stage", "", "list only the Freight eligible for the Stage NAME, marking the one it holds")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output FORMAT: table, yaml or json")
	o.completeStages(cmd)
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if !slices.Contains([]string{"table", "yaml", "json"}, output) {
			return fmt.Errorf("--output: unknown format %q (table, yaml or json)", output)
		}
		k8s, namespace, err := o.connect()
		if err != nil {
			return err
		}
		return runFreight(c.Context(), k8s, namespace, stage, output, c.OutOrStdout(), c.ErrOrStderr())
	}
	return cmd
}

func runFreight(ctx context.Context, k8s client.Client, namespace, stageName, output string, stdout, stderr io.Writer) error {
	freights, err := listFreight(ctx, k8s, namespace)
	if err != nil {
		return err
	}
	current := ""
	if stageName != "" {
		stage, err := getStage(ctx, k8s, namespace, stageName)
		if err != nil {
			return err
		}
		freights = slices.DeleteFunc(freights, func(f kargov1.Freight) bool { return promotion.Eligible(stage, &f) != nil })
		if c := stage.Status.CurrentFreight; c != nil {
			current = c.Name
		}
	}
	switch output {
	case "yaml", "json":
		list := kargov1.FreightList{Items: freights}
		list.SetGroupVersionKind(kargov1.GroupVersion.WithKind("FreightList"))
		for i := range list.Items {
			list.Items[i].SetGroupVersionKind(kargov1.GroupVersion.WithKind("Freight"))
		}
		data, err := json.MarshalIndent(list, "", "  ")
		if err == nil && output == "yaml" {
			data, err = yaml.JSONToYAML(data)
		}
		if err != nil {
			return err
		}
		if output == "json" {
			data = append(data, '\n')
		}
		_, err = stdout.Write(data)
		return err
	}
	if len(freights) == 0 {
		if stageName != "" {
			fmt.Fprintf(stderr, "no Freight eligible for stage %s in namespace %s\n", stageName, namespace)
		} else {
			fmt.Fprintf(stderr, "no Freight in namespace %s\n", namespace)
		}
		return nil
	}
	return writeFreightTable(stdout, freights, stageName != "", current, time.Now())
}

// writeFreightTable writes the Freight as a table, in their order; with
// markCurrent, a first column CURRENT marks the Freight named current.
// Ages are counted to now.
func writeFreightTable(w io.Writer, freights []kargov1.Freight, markCurrent bool, current string, now time.Time) error {
	tw := table.New(w)
	if markCurrent {
		fmt.Fprint(tw, "CURRENT\t")
	}
	fmt.Fprintln(tw, "ALIAS\tNAME\tIMAGES\tVERIFIED IN\tAPPROVED FOR\tAGE")
	for i := range freights {
		f := &freights[i]
		if markCurrent {
			mark := ""
			if f.Name == current {
				mark = "*"
			}
			fmt.Fprintf(tw, "%s\t", mark)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", table.OrDash(f.Alias), promotion.ShortName(f.Name), imagesString(f.Spec.Images),
			stageList(f.Status.VerifiedIn), stageList(f.Status.ApprovedFor), duration.HumanDuration(now.Sub(f.CreationTimestamp.Time)))
	}
	return tw.Flush()
}

// imagesString lists the images, comma separated, each as imageString.
func imagesString(images []kargov1.FreightImage) string {
	out := make([]string, 0, len(images))
	for _, img := range images {
		out = append(out, imageString(img))
	}
	return strings.Join(out, ", ")
}

// imageString is repository:tag@sha256:<7 hex digits of the digest>.
func imageString(img kargov1.FreightImage) string {
	s := img.RepoURL
	if img.Tag != "" {
		s += ":" + img.Tag
	}
	algo, hex, _ := strings.Cut(img.Digest, ":")
	return s + "@" + algo + ":" + hex[:min(7, len(hex))]
}

func stageList(records []kargov1.FreightStageRecord) string {
	names := make([]string, 0, len(records))
	for _, r := range records {
		names = append(names, r.Stage)
	}
	return table.OrDash(strings.Join(names, ", "))
}

// freightString names a Freight for people: "alias (short name)", or its
// name when it has no alias.
func freightString(f *kargov1.Freight) string {
	if f.Alias == "" {
		return f.Name
	}
	return f.Alias + " (" + promotion.ShortName(f.Name) + ")"
}

// listFreight lists the Freight of the namespace, newest first.
func listFreight(ctx context.Context, k8s client.Client, namespace string) ([]kargov1.Freight, error) {
	var list kargov1.FreightList
	if err := k8s.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("list freight of namespace %s: %w", namespace, err)
	}
	slices.SortFunc(list.Items, func(a, b kargov1.Freight) int {
		if promotion.Newer(&a, &b) {
			return -1
		}
		return 1
	})
	return list.Items, nil
}

// findFreight is the Freight of the namespace named ref, or whose alias
// is ref.
func findFreight(ctx context.Context, k8s client.Client, namespace, ref string) (*kargov1.Freight, error) {
	f := &kargov1.Freight{}
	err := k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref}, f)
	if err == nil {
		return f, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("get freight %s: %w", ref, err)
	}
	freights, err := listFreight(ctx, k8s, namespace)
	if err != nil {
		return nil, err
	}
	var found []kargov1.Freight
	for _, f := range freights {
		if f.Alias == ref || f.Labels[kargov1.AliasLabel] == ref {
			found = append(found, f)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("freight %s: no Freight of namespace %s has this name or alias (kargo freight lists them)", ref, namespace)
	case 1:
		return &found[0], nil
	}
	names := make([]string, 0, len(found))
	for _, f := range found {
		names = append(names, f.Name)
	}
	return nil, fmt.Errorf("freight %s: the alias of %d Freight (%s): name one", ref, len(found), strings.Join(names, ", "))
}

// getStage is the Stage of the namespace.
func getStage(ctx context.Context, k8s client.Client, namespace, name string) (*kargov1.Stage, error) {
	stage := &kargov1.Stage{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, stage); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("stage %s: not found in namespace %s", name, namespace)
		}
		return nil, fmt.Errorf("get stage %s: %w", name, err)
	}
	return stage, nil
}

var errNoStage = errors.New("--stage: required (the Stage's name)")
