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
	cmd.AddCommand(newConvertComposeCommand())
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
			out, err := res.YAML()
			if err != nil {
				return err
			}
			for _, w := range res.Warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
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
