// Command registry serves an in-memory OCI registry on 127.0.0.1 for `make
// quickstart` and pushes busybox images into it (see internal/testregistry):
//
//	go run ./hack/registry -addr 127.0.0.1:5000 -push app:1.0.0 -push app:1.0.1
//	    serve, push both tags, then serve until SIGINT or SIGTERM
//	go run ./hack/registry -addr 127.0.0.1:5000 -connect -cmd 'exit 1' -push app:1.0.2
//	    push a tag into the registry already serving there, and exit
//
// It prints one line per image pushed: the reference by tag and by digest.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/kargo-io/kargo/internal/testregistry"
)

// tags collects the repeated -push flag.
type tags []string

func (t *tags) String() string     { return strings.Join(*t, ",") }
func (t *tags) Set(v string) error { *t = append(*t, v); return nil }

func main() {
	addr := flag.String("addr", "127.0.0.1:5000", "host:port to serve on (a loopback IP)")
	connect := flag.Bool("connect", false, "push into the registry already serving on -addr, then exit")
	cmd := flag.String("cmd", "", "shell command the pushed images run (sh -c); default: sleep 86400")
	var push tags
	flag.Var(&push, "push", "repository:tag to build and push (repeatable)")
	flag.Parse()
	if err := run(*addr, *connect, *cmd, push); err != nil {
		fmt.Fprintln(os.Stderr, "registry:", err)
		os.Exit(1)
	}
}

func run(addr string, connect bool, cmd string, push []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var reg *testregistry.Registry
	if connect {
		reg = testregistry.Connect(addr)
	} else {
		var err error
		if reg, err = testregistry.Start(addr); err != nil {
			return err
		}
		defer func() { _ = reg.Close() }()
		fmt.Printf("serving a registry on %s\n", reg.Host())
	}
	var opts testregistry.ImageOptions
	if cmd != "" {
		opts.Cmd = []string{"sh", "-c", cmd}
	}
	for _, ref := range push {
		digest, err := reg.Push(ctx, ref, opts)
		if err != nil {
			return err
		}
		repo, _, _ := strings.Cut(ref, ":")
		fmt.Printf("pushed %s %s@%s\n", reg.Repo(ref), reg.Repo(repo), digest)
	}
	if connect {
		return nil
	}
	<-ctx.Done()
	return nil
}
