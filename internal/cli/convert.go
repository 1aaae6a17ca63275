package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kargo-io/kargo/internal/compose"
)

func newConvertCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "convert",
		Short:   "Convert files of other tools to Kargo objects",
		Long:    `Converts the files of other tools to Kargo objects, printed as YAML.`,
		Example: `  kargo convert compose -f docker-compose.yml --stack geo | kubectl apply -f -`,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newConvertComposeCommand(), newConvertWorkspaceCommand())
	return cmd
}

func newConvertComposeCommand() *cobra.Command {
	var opts compose.Options
	cmd := &cobra.Command{
		Use:   "compose -f FILE [-f FILE]... [--env-file FILE]... --stack NAME",
		Short: "Convert compose files (as docker stack deploy takes them) to a Stack and its Services",
		Long: `Converts compose files, as ` + "`docker stack deploy -c a.yml -c b.yml`" + ` takes them,
to a Stack, its Services, and a ConfigMap and a Secret holding the file-based
configs and secrets, printed as multi-document YAML for ` + "`kubectl apply -f -`" + `.

Several -f are merged in order. --env-file files give the variables of
${VAR} substitution and the values of bare names under environment: (the
OS environment and a .env beside the files are not read). Paths in the
files are relative to the first file's directory, as docker resolves them.

Every key maps to the Kargo field holding what docker stack deploy makes of
it on the Swarm (compose command is Kargo args, entrypoint is command). A
key docker ignores in swarm mode (build, container_name, depends_on, ...)
is a warning on stderr; a key Kargo cannot express is an error naming the
service and the key, or a warning with --allow-unsupported.`,
		Example: `  kargo convert compose -f docker-compose.yml --stack geo
  kargo convert compose -f base.yml -f prod.yml --env-file prod.env --stack geo \
      --environment prod --namespace geo | kubectl apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(opts.Files) == 0 {
				return errors.New("convert compose: no compose file given (-f FILE)")
			}
			res, err := compose.Convert(opts)
			if err != nil {
				return fmt.Errorf("convert compose: %w", err)
			}
			return printConverted(cmd, res.YAML, res.Warnings)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&opts.Files, "file", "f", nil, "compose FILE (repeatable: merged in order)")
	f.StringArrayVar(&opts.EnvFiles, "env-file", nil, "FILE of variables for substitution and bare environment names (repeatable: a later one wins)")
	f.StringVar(&opts.Stack, "stack", "", "NAME of the Stack and of the Swarm stack namespace (required)")
	f.StringVar(&opts.Environment, "environment", "local", "NAME of the Environment the Stack deploys to (spec.environmentRef)")
	f.StringVar(&opts.Namespace, "namespace", "", "Kubernetes namespace of the objects (default: none, kubectl's current one)")
	f.BoolVar(&opts.AllowUnsupported, "allow-unsupported", false, "leave out, with a warning, the keys Kargo cannot express instead of failing")
	_ = cmd.MarkFlagRequired("stack")
	_ = cmd.MarkFlagFilename("file", "yml", "yaml")
	_ = cmd.MarkFlagFilename("env-file")
	return cmd
}

func newConvertWorkspaceCommand() *cobra.Command {
	var opts compose.WorkspaceOptions
	cmd := &cobra.Command{
		Use:   "workspace DIR",
		Short: "Convert a workspace of the old bash + compose tool to an Environment and its Stacks",
		Long: `Converts a workspace of the old bash + compose tool: DIR/.env (read over
DIR/.env.default when there is one, with the bash forms the old files use),
its STACKS list and each <STACK>_STACK list, and DIR/deploy/<service>.yml for
the services that have no catalogue entry. Prints, as multi-document YAML for
` + "`kubectl apply -f -`" + `:

- an Environment (endpoint: --endpoint or DOCKER_HOST; nodeLabels from the
  <NODE>_LABELS variables) reading the .env files from a ConfigMap;
- a Secret holding the credentials of the .env (the variables behind the
  entries' Swarm secrets, and the *_PASSWORD, *_SECRET, *_TOKEN, ... that
  entries read as env values), taken out of the ConfigMap's copy;
- one Stack per STACKS name, in order (each depends on the one before), with
  the old Swarm stack name kargo-<stack>, so services and volumes keep their
  names (kargo-dbs_mongodb, kargo-dbs_mongodb_data), and the shared networks
  (DOCKER_*_NETWORK) as external networks: the old tool created them;
- the Services converted from compose files, as kargo convert compose does.

Every mistake of the workspace is reported at once, naming the variable and
the value: a STACKS name without its <STACK>_STACK, a service with neither a
catalogue entry nor a compose file, a credential an entry needs left unset,
a variable an entry requires.`,
		Example: `  kargo convert workspace ~/kargo-workspace --environment prod --namespace geo > geo.yaml
  kubectl apply -f geo.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dir = args[0]
			res, err := compose.ConvertWorkspace(opts)
			if err != nil {
				return fmt.Errorf("convert workspace: %w", err)
			}
			return printConverted(cmd, res.YAML, res.Warnings)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Environment, "environment", "local", "NAME of the Environment (and prefix of its ConfigMap and Secret)")
	f.StringVar(&opts.Endpoint, "endpoint", "", "the Swarm manager's Docker endpoint, unix:///... or tcp://host:port (default: DOCKER_HOST of the .env)")
	f.StringVar(&opts.Namespace, "namespace", "", "Kubernetes namespace of the objects (default: none, kubectl's current one)")
	f.BoolVar(&opts.AllowUnsupported, "allow-unsupported", false, "leave out, with a warning, the compose keys Kargo cannot express instead of failing")
	return cmd
}

// printConverted prints the warnings of a conversion on stderr, then its
// YAML on stdout (nothing when it cannot be marshalled).
func printConverted(cmd *cobra.Command, yaml func() ([]byte, error), warnings []string) error {
	out, err := yaml()
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
	}
	_, err = cmd.OutOrStdout().Write(out)
	return err
}
