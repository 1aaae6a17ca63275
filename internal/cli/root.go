// Package cli holds the kargo command (cobra): the manager, the
// subcommands that work offline, without a cluster or a Swarm (render,
// catalog, convert, completion), diff, and the promotion commands
// (promote, approve, freight, pipeline).
package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"
)

// Main runs the kargo command with args (without the program name) and
// returns the exit code: 0 ok, 1 error (kargo diff: 1 when something
// differs, 2 on error). Without a subcommand, or with
// flags only, it runs the manager, as the binary always did.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (len(args[0]) > 0 && args[0][0] == '-' && !slices.Contains([]string{"-h", "--help"}, args[0])) {
		args = append([]string{"manager"}, args...)
	}
	root := NewRootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		var exit *exitError
		if errors.As(err, &exit) {
			if exit.err != nil {
				fmt.Fprintln(stderr, "kargo:", exit.err)
			}
			return exit.code
		}
		fmt.Fprintln(stderr, "kargo:", err)
		return 1
	}
	return 0
}

// NewRootCommand builds the kargo command and its subcommands.
func NewRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "kargo",
		Short: "Kargo deploys service stacks onto Docker Swarm from Kubernetes",
		Long: `Kargo is a Kubernetes operator deploying service stacks onto Docker Swarm.

Without a subcommand it runs the manager (the controllers). render, catalog
and convert work offline, without a cluster or a Swarm; diff compares
manifests with a cluster and its Swarms; promote, approve, freight and
pipeline move Freight between the Stages of a cluster.`,
		Example: `  # run the controllers against the current kubeconfig
  kargo manager --leader-elect

  # print the merged Services of Stacks
  kargo render -f env.yaml -f stack.yaml

  # convert compose files to Kargo objects and apply them
  kargo convert compose -f docker-compose.yml --stack geo | kubectl apply -f -

  # what applying manifests would change in the cluster and on the Swarm
  kargo diff -f manifests/

  # the promotion pipeline of a namespace, then promote to prod
  kargo pipeline -n shop
  kargo promote -n shop --stage prod --newest --wait`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(newManagerCommand(), newRenderCommand(), newCatalogCommand(), newConvertCommand(), newDiffCommand(),
		newPromoteCommand(), newApproveCommand(), newFreightCommand(), newPipelineCommand(), newCompletionCommand())
	return root
}

// runCommand runs one subcommand alone with args, as the kargo command
// runs it (kargo render and kargo catalog keep a Go API for their tests).
func runCommand(cmd *cobra.Command, args []string, stdout, stderr io.Writer) error {
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	return cmd.Execute()
}

func newRenderCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "render -f FILE [-f FILE]... [--env-file FILE]... [--stack NAME] [--warn-unused]",
		Short: "Print the merged Services of Stacks from local files, offline",
		Long: `Prints the merged Services of Stacks as YAML, without a cluster: the catalog
entries each Stack picks, its patches, images and replicas, the variables and
defaults of its Environment or ClusterEnvironment. The files (YAML, several
documents each; - for stdin) hold the Environments or ClusterEnvironments,
the Stacks, and the ConfigMaps and Secrets their variablesFrom names. Values from Secrets are never printed.
What the Environment's spec.policy refuses (a host path, a volume driver, an
external network...) is a warning on stderr, one line per Service and
field: the Stack reconciler would refuse the Stack (PolicyDenied).`,
		Example: `  kargo render -f env.yaml -f stack.yaml
  kargo render -f env.yaml -f stack.yaml --env-file extra.env --stack tiles
  kargo render -f env.yaml -f stack.yaml --warn-unused
  kubectl get environment,stack,configmap -o yaml | kargo render -f -
  kubectl get clusterenvironment shared -o yaml | kargo render -f - -f stack.yaml`,
	}
	var o renderOptions
	cmd.Flags().StringArrayVarP(&o.files, "file", "f", nil, "YAML FILE with Environment, ClusterEnvironment, Stack, ConfigMap and Secret manifests (repeatable; - for stdin)")
	cmd.Flags().StringArrayVar(&o.envFiles, "env-file", nil, "a whole .env FILE of variables, read after the Environment's own sources: a later one wins (repeatable)")
	cmd.Flags().StringVar(&o.stack, "stack", "", "render only the Stack NAME")
	cmd.Flags().BoolVar(&o.warnUnused, "warn-unused", false, "warn on stderr, per Environment, of the variables it sets that no catalog entry or patch of its Stacks reads (names only)")
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(c *cobra.Command, _ []string) error { return runRender(o, c.OutOrStdout(), c.ErrOrStderr()) }
	return cmd
}

func newCatalogCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog [-o wide]",
		Short: "List the entries of the default configuration",
		Long: `Lists the entries of the default configuration a Stack can pick
(spec.services[].catalog). -o wide adds the image each entry runs, as
written in the entry, before variable substitution.`,
		Example: `  kargo catalog
  kargo catalog -o wide`,
	}
	var output string
	cmd.Flags().StringVarP(&output, "output", "o", "", "output FORMAT: wide adds the IMAGE column")
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(c *cobra.Command, _ []string) error { return runCatalog(output, c.OutOrStdout()) }
	return cmd
}

func newCompletionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script",
		Long: `Prints the completion script of kargo for a shell. Load it in the current
shell, or install it where the shell looks for completions.`,
		Example: `  source <(kargo completion bash)
  kargo completion zsh > "${fpath[1]}/_kargo"
  kargo completion fish > ~/.config/fish/completions/kargo.fish`,
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		ValidArgs: []string{"bash", "zsh", "fish"},
		RunE: func(cmd *cobra.Command, args []string) error {
			root, out := cmd.Root(), cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			default:
				return root.GenFishCompletion(out, true)
			}
		},
	}
}
