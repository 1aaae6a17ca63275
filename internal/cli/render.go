package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/overlay"
	"github.com/kargo-io/kargo/internal/policy"
)

// Render runs kargo render with args, as the kargo command does.
func Render(args []string, stdout, stderr io.Writer) error {
	return runCommand(newRenderCommand(), args, stdout, stderr)
}

// renderOptions are kargo render's flags.
type renderOptions struct {
	files, envFiles []string
	stack           string
	// warnUnused prints, for each Environment, the variables no Stack of it
	// reads (names only).
	warnUnused bool
}

// runRender prints the merged Services of the Stacks found in the files.
func runRender(o renderOptions, stdout, stderr io.Writer) error {
	if len(o.files) == 0 {
		return errors.New("render: no file given (-f FILE; kargo render -h shows the usage)")
	}

	objs := newObjects()
	stdinRead := false
	for _, name := range o.files {
		if name == "-" {
			if stdinRead {
				return errors.New("render: -f - given twice (stdin can be read once)")
			}
			stdinRead = true
		}
		if err := objs.readFile(name, stderr); err != nil {
			return err
		}
	}
	extra := make([]overlay.Source, 0, len(o.envFiles))
	for _, name := range o.envFiles {
		data, err := os.ReadFile(name)
		if err != nil {
			return fmt.Errorf("--env-file: %w", err)
		}
		content := string(data)
		extra = append(extra, overlay.Source{Origin: "file " + name, Dotenv: &content})
	}

	stacks, err := selectStacks(objs, o.stack)
	if err != nil {
		return err
	}
	// Render everything before printing anything: an error leaves stdout
	// empty rather than half a configuration.
	variables := map[string]*overlay.Variables{}
	read := map[string][]string{} // by Environment: what its Stacks read
	var envOrder []string
	renderStack := func(stack *v1alpha1.Stack) (*overlay.Output, error) {
		env, err := environmentOf(objs, stack)
		if err != nil {
			return nil, err
		}
		label := environmentLabel(env)
		vars, ok := variables[label]
		if !ok {
			vars, err = overlay.EnvironmentVariables(env.EnvironmentSpec(), objs.getter(), extra...)
			if err != nil {
				return nil, fmt.Errorf("%s (%s): %w", label, objs.envDocs[label], err)
			}
			variables[label] = vars
			envOrder = append(envOrder, label)
		}
		out, err := overlay.Render(overlay.Input{Stack: stack, Variables: vars})
		if err != nil {
			return nil, fmt.Errorf("Stack %s (%s): %w", stack.Name, objs.stackDocs[stack.Name], err)
		}
		// Shown as deployed: over the Environment's defaults.
		for i := range out.Services {
			overlay.ApplyDefaults(&out.Services[i].Spec, env.EnvironmentSpec().Defaults)
		}
		read[label] = append(read[label], out.Read...)
		return out, nil
	}
	var b bytes.Buffer
	var denied []string // what the Environments' policies refuse
	for _, stack := range stacks {
		out, err := renderStack(stack)
		if err != nil {
			return err
		}
		denied = append(denied, policyWarnings(objs, stack, out.Services)...)
		manifests, err := overlay.Manifests(out.Services)
		if err != nil {
			return fmt.Errorf("Stack %s: %w", stack.Name, err)
		}
		b.Write(manifests)
		writeConfigs(&b, stack, out)
	}
	if o.warnUnused {
		// A variable is unused when no Stack of its Environment reads it:
		// with --stack, the other Stacks of the files using the same
		// Environment are rendered too (not printed).
		for _, stack := range objs.stacks {
			if slices.Contains(stacks, stack) {
				continue
			}
			env, err := environmentOf(objs, stack)
			if err != nil || variables[environmentLabel(env)] == nil {
				continue // another Environment: not checked
			}
			if _, err := renderStack(stack); err != nil {
				return fmt.Errorf("--warn-unused: %w", err)
			}
		}
	}
	if _, err := stdout.Write(b.Bytes()); err != nil {
		return err
	}
	for _, line := range denied {
		fmt.Fprintf(stderr, "kargo render: warning: %s\n", line)
	}
	if o.warnUnused {
		for _, label := range envOrder {
			if unused := variables[label].Unused(read[label]); len(unused) > 0 {
				fmt.Fprintf(stderr, "kargo render: warning: %s: %s\n", label, overlay.UnusedMessage(unused, math.MaxInt))
			}
		}
	}
	return nil
}

// policyWarnings are the violations of the Environment's policy by the
// Services a Stack renders, one line each: the Stack reconciler refuses
// such a Stack (PolicyDenied).
func policyWarnings(objs *objects, stack *v1alpha1.Stack, services []v1alpha1.Service) []string {
	env, err := environmentOf(objs, stack)
	var denied *policy.Error
	if err != nil || !errors.As(policy.Check(env.EnvironmentSpec(), stack, services), &denied) {
		return nil
	}
	lines := denied.Lines()
	for i, l := range lines {
		lines[i] = fmt.Sprintf("Stack %s (%s): %s", stack.Name, objs.stackDocs[stack.Name], l)
	}
	return lines
}

// writeConfigs ends a Stack's Services with a comment listing the config
// files its catalog entries ship (their content is not printed).
func writeConfigs(b *bytes.Buffer, stack *v1alpha1.Stack, out *overlay.Output) {
	if len(stack.Spec.Services) == 0 {
		fmt.Fprintf(b, "# stack %s: no catalog entries (spec.services is empty)\n", stack.Name)
		return
	}
	for _, name := range slices.Sorted(maps.Keys(out.Configs)) {
		fmt.Fprintf(b, "# stack %s: config %s (%d bytes)\n", stack.Name, name, len(out.Configs[name]))
	}
}

// selectStacks returns the Stacks to render, in the order of the files.
func selectStacks(objs *objects, only string) ([]*v1alpha1.Stack, error) {
	if len(objs.stacks) == 0 {
		return nil, errors.New("render: no Stack in the files")
	}
	if only == "" {
		return objs.stacks, nil
	}
	for _, s := range objs.stacks {
		if s.Name == only {
			return []*v1alpha1.Stack{s}, nil
		}
	}
	names := make([]string, 0, len(objs.stacks))
	for _, s := range objs.stacks {
		names = append(names, s.Name)
	}
	return nil, fmt.Errorf("render: --stack %s: no Stack of that name in the files (found: %s)", only, strings.Join(names, ", "))
}

// environmentOf finds the Environment or ClusterEnvironment a Stack names
// (spec.environmentRef.kind). A Stack without environmentRef takes the only
// Environment of the files.
func environmentOf(objs *objects, stack *v1alpha1.Stack) (v1alpha1.EnvironmentObject, error) {
	doc := objs.stackDocs[stack.Name]
	ref := stack.Spec.EnvironmentRef
	kind := v1alpha1.EnvironmentKind
	if ref.IsCluster() {
		kind = v1alpha1.ClusterEnvironmentKind
	}
	var candidates []v1alpha1.EnvironmentObject
	for _, env := range objs.environments {
		if env.EnvironmentReference().IsCluster() == ref.IsCluster() {
			candidates = append(candidates, env)
		}
	}
	if len(candidates) == 0 {
		return nil, fmt.Errorf("Stack %s (%s): no %s in the files (add one with -f)", stack.Name, doc, kind)
	}
	if ref.Name == "" {
		if len(candidates) > 1 {
			return nil, fmt.Errorf("Stack %s (%s): spec.environmentRef.name is empty and the files hold %d %ss (%s): name one", stack.Name, doc, len(candidates), kind, environmentNames(candidates))
		}
		return candidates[0], nil
	}
	for _, env := range candidates {
		if env.GetName() == ref.Name {
			return env, nil
		}
	}
	return nil, fmt.Errorf("Stack %s (%s): spec.environmentRef.name: no %s named %q in the files (found: %s)", stack.Name, doc, kind, ref.Name, environmentNames(candidates))
}

// getter reads the ConfigMaps and Secrets of the files.
func (objs *objects) getter() overlay.DataGetter {
	return func(name string, secret bool) (map[string]string, error) {
		m := objs.configMaps
		if secret {
			m = objs.secrets
		}
		src, ok := m[name]
		if !ok {
			return nil, fmt.Errorf("%w in the files (add it with -f)", overlay.ErrNotFound)
		}
		return src.data, nil
	}
}
