// Package cli holds the subcommands of the kargo binary that work offline,
// without a cluster or a Swarm: `kargo render` prints the merged Services
// of Stacks from local files, `kargo catalog` lists the default
// configuration.
package cli

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// parseFlags parses args; -h prints the usage to stdout and returns
// flag.ErrHelp, a bad flag prints it to stderr. Positional arguments are
// refused.
func parseFlags(fs *flag.FlagSet, args []string, usage string, stdout, stderr io.Writer) error {
	err := fs.Parse(args)
	switch {
	case err == flag.ErrHelp:
		printUsage(fs, usage, stdout)
		return err
	case err != nil:
		printUsage(fs, usage, stderr)
		return fmt.Errorf("%s: %w", fs.Name(), err)
	case fs.NArg() > 0:
		printUsage(fs, usage, stderr)
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

func printUsage(fs *flag.FlagSet, usage string, w io.Writer) {
	fmt.Fprint(w, usage)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}
