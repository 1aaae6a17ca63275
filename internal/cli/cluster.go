package cli

import (
	"fmt"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// clusterOptions are the flags of the commands that talk to a cluster.
type clusterOptions struct {
	kubeconfig, namespace string
}

// addFlags adds --kubeconfig and -n; namespaceUsage says what the
// namespace is for.
func (o *clusterOptions) addFlags(cmd *cobra.Command, namespaceUsage string) {
	cmd.Flags().StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig FILE (default: $KUBECONFIG, then ~/.kube/config)")
	cmd.Flags().StringVarP(&o.namespace, "namespace", "n", "", namespaceUsage+" (default: the kubeconfig context's)")
}

// connect is a client of the kubeconfig's cluster, with Kargo's kinds,
// and the namespace: -n, else the kubeconfig context's.
func (o clusterOptions) connect() (client.Client, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.kubeconfig
	kc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{Context: clientcmdapi.Context{Namespace: o.namespace}})
	cfg, err := kc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig: %w", err)
	}
	namespace, _, err := kc.Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: clusterScheme})
	if err != nil {
		return nil, "", fmt.Errorf("kubernetes client: %w", err)
	}
	return c, namespace, nil
}

// completeStages completes a --stage flag with the Stages of the
// namespace the other flags name.
func (o *clusterOptions) completeStages(cmd *cobra.Command) {
	_ = cmd.RegisterFlagCompletionFunc("stage", func(c *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		k8s, namespace, err := o.connect()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var list kargov1.StageList
		if err := k8s.List(c.Context(), &list, client.InNamespace(namespace)); err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		names := make([]cobra.Completion, 0, len(list.Items))
		for _, s := range list.Items {
			names = append(names, s.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
}

// completeFreight completes a --freight flag with the aliases of the
// Freight of the namespace the other flags name, newest first (the names
// of those without one), each described by its images.
func (o *clusterOptions) completeFreight(cmd *cobra.Command) {
	_ = cmd.RegisterFlagCompletionFunc("freight", func(c *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		k8s, namespace, err := o.connect()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		freights, err := listFreight(c.Context(), k8s, namespace)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		out := make([]cobra.Completion, 0, len(freights))
		for _, f := range freights {
			name := f.Alias
			if name == "" {
				name = f.Name
			}
			out = append(out, cobra.CompletionWithDesc(name, imagesString(f.Spec.Images)))
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
	})
}
