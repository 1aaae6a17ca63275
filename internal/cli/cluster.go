package cli

import (
	"fmt"

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
