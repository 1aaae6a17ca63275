// Command kargo is the Kargo operator and its offline tools:
//
//	kargo manager            runs the controllers (the default command)
//	kargo render             prints the merged Services of Stacks from local files
//	kargo catalog            lists the entries of the default configuration
//	kargo convert compose    converts compose files to a Stack and its Services
//	kargo completion SHELL   prints a shell completion script
//
// The commands are built in internal/cli.
package main

import (
	"os"

	"github.com/kargo-io/kargo/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
