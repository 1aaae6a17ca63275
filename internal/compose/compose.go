// Package compose converts compose files, as `docker stack deploy -c`
// takes them, into Kargo objects: a Stack, its Services, and the ConfigMaps
// and Secrets holding file-based configs and secrets.
//
// The files are loaded with compose-go (merge of several files,
// interpolation, env_file, relative paths). The mapping follows what
// github.com/docker/cli/cli/compose/convert (v28.5.x) makes of each key for
// a Swarm ServiceSpec, so that the Swarm services Kargo deploys are equal to
// the ones `docker stack deploy` would make. Every key of the files is
// accounted for: mapped, a warning (docker ignores it in swarm mode), or an
// error (Kargo cannot express it; Options.AllowUnsupported turns it into a
// warning). Nothing is dropped silently.
package compose

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kargo-io/kargo/api/v1alpha1"
)

// Options of a conversion.
type Options struct {
	// Files are the compose files, merged in order like
	// `docker stack deploy -c a -c b`. At least one.
	Files []string
	// EnvFiles provide the variables for ${VAR} substitution and for the
	// bare names of `environment:`; a later file wins. The OS environment
	// is not read, so that the output depends on the files only.
	EnvFiles []string
	// Variables are variables already resolved (an old-tool .env read by
	// kargo convert workspace); the EnvFiles win over them.
	Variables map[string]string
	// Stack is the Stack name and Swarm stack namespace (required).
	Stack string
	// Environment is the Environment the Stack deploys to. Default "local".
	Environment string
	// Namespace is the Kubernetes namespace of the objects; empty leaves
	// metadata.namespace unset (kubectl applies to its current namespace).
	Namespace string
	// AllowUnsupported turns what Kargo cannot express into warnings; the
	// key is then left out of the output.
	AllowUnsupported bool
}

// Result of a conversion.
type Result struct {
	Stack      *v1alpha1.Stack
	Services   []*v1alpha1.Service
	ConfigMaps []*corev1.ConfigMap
	Secrets    []*corev1.Secret
	// Warnings name the service (or top-level object) and the key.
	Warnings []string
}

// issues collects warnings and unsupported keys.
type issues struct {
	allow    bool
	warnings []string
	errs     []string
}

// warn records a key docker ignores, or a note about a mapping.
func (is *issues) warn(format string, args ...any) {
	is.warnings = append(is.warnings, fmt.Sprintf(format, args...))
}

// unsupported records a key Kargo cannot express: an error, or a warning
// with AllowUnsupported.
func (is *issues) unsupported(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if is.allow {
		is.warnings = append(is.warnings, msg+" (left out: --allow-unsupported)")
		return
	}
	is.errs = append(is.errs, msg)
}

// UnsupportedError lists every key Kargo cannot express.
type UnsupportedError struct {
	Keys []string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%d key(s) Kargo cannot express (--allow-unsupported leaves them out with a warning):\n  %s",
		len(e.Keys), strings.Join(e.Keys, "\n  "))
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// loadMu serialises loads: compose-go logs through logrus' standard
// logger, whose hooks are swapped while loading.
var loadMu sync.Mutex

// Convert loads the compose files and converts them.
func Convert(opts Options) (*Result, error) {
	if len(opts.Files) == 0 {
		return nil, errors.New("no compose file given (-f FILE)")
	}
	if opts.Stack == "" {
		return nil, errors.New("no stack name given (--stack NAME)")
	}
	if !dnsLabel.MatchString(opts.Stack) || len(opts.Stack) > 63 {
		return nil, fmt.Errorf("--stack %q: must be a DNS label (lower case letters, digits and -, at most 63)", opts.Stack)
	}
	if opts.Environment == "" {
		opts.Environment = "local"
	}
	is := &issues{allow: opts.AllowUnsupported}

	raw, project, err := load(opts, is)
	if err != nil {
		return nil, err
	}
	checkModel(raw, is)

	c := &converter{opts: opts, project: project, raw: raw, is: is}
	res, err := c.convert()
	if err != nil {
		return nil, err
	}
	slices.Sort(is.warnings)
	slices.Sort(is.errs)
	if len(is.errs) > 0 {
		return nil, &UnsupportedError{Keys: is.errs}
	}
	res.Warnings = is.warnings
	return res, nil
}

// load reads the files twice: the raw merged model (interpolated, not
// normalised) tells which keys the user wrote; the project gives the
// typed values.
func load(opts Options, is *issues) (map[string]any, *types.Project, error) {
	loadMu.Lock()
	defer loadMu.Unlock()
	logger := logrus.StandardLogger()
	hook := &logHook{}
	oldHooks := logger.ReplaceHooks(logrus.LevelHooks{})
	logger.AddHook(hook)
	oldOut := logger.Out
	logger.SetOutput(io.Discard)
	defer func() {
		logger.ReplaceHooks(oldHooks)
		logger.SetOutput(oldOut)
		for _, m := range hook.messages {
			is.warn("compose: %s", m)
		}
	}()

	for _, f := range opts.Files {
		if f == "-" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return nil, nil, fmt.Errorf("compose file: %w", err)
		}
	}
	newOptions := func(extra ...func(*loader.Options)) (*cli.ProjectOptions, error) {
		o, err := cli.NewProjectOptions(opts.Files,
			cli.WithName(opts.Stack),
			cli.WithProfiles([]string{"*"}),
			cli.WithLoadOptions(extra...),
		)
		if err != nil {
			return nil, err
		}
		// Only the files given: docker stack deploy reads no .env by itself.
		o.EnvFiles = opts.EnvFiles
		if err := cli.WithDotEnv(o); err != nil {
			return nil, fmt.Errorf("--env-file: %w", err)
		}
		if o.Environment == nil {
			o.Environment = types.Mapping{}
		}
		for name, value := range opts.Variables {
			if _, set := o.Environment[name]; !set {
				o.Environment[name] = value
			}
		}
		return o, nil
	}
	ctx := context.Background()
	// ProjectOptions.LoadModel does not pass the environment on to the
	// loader (LoadProject does): load the raw model from the loader itself.
	rawLoad := []func(*loader.Options){func(o *loader.Options) {
		o.SkipNormalization = true
		o.SkipDefaultValues = true // what the user wrote, not compose-go's defaults
		o.SetProjectName(opts.Stack, true)
	}}
	rawOpts, err := newOptions(rawLoad...)
	if err != nil {
		return nil, nil, err
	}
	wd, err := rawOpts.GetWorkingDir()
	if err != nil {
		return nil, nil, err
	}
	details, err := rawOpts.ReadConfigFiles(ctx, wd, rawOpts)
	if err != nil {
		return nil, nil, err
	}
	details.Environment = rawOpts.Environment
	raw, err := loader.LoadModelWithContext(ctx, *details, rawLoad...)
	if err != nil {
		return nil, nil, err
	}
	// env_file and bare names are resolved as docker does, by the
	// converter (see environment).
	projOpts, err := newOptions(func(o *loader.Options) { o.SkipResolveEnvironment = true })
	if err != nil {
		return nil, nil, err
	}
	project, err := projOpts.LoadProject(ctx)
	if err != nil {
		return nil, nil, err
	}
	return raw, project, nil
}

type logHook struct{ messages []string }

func (h *logHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

func (h *logHook) Fire(e *logrus.Entry) error {
	h.messages = append(h.messages, e.Message)
	return nil
}

// converter holds one conversion.
type converter struct {
	opts    Options
	project *types.Project
	raw     map[string]any
	is      *issues

	stack      *v1alpha1.Stack
	configMap  *corev1.ConfigMap
	secret     *corev1.Secret
	configs    map[string]bool // declared in the Stack
	secrets    map[string]bool
	volumes    map[string]bool // named volumes Kargo can express
	networkSet map[string]bool
}

func (c *converter) meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: c.opts.Namespace}
}

func (c *converter) convert() (*Result, error) {
	c.stack = &v1alpha1.Stack{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Stack"},
		ObjectMeta: c.meta(c.opts.Stack),
		Spec: v1alpha1.StackSpec{
			EnvironmentRef: v1alpha1.EnvironmentReference{Name: c.opts.Environment},
			Namespace:      c.opts.Stack,
		},
	}
	c.configs, c.secrets, c.volumes, c.networkSet = map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	c.convertNetworks()
	c.convertVolumes()
	if err := c.convertFileObjects(); err != nil {
		return nil, err
	}

	res := &Result{Stack: c.stack}
	names := slices.Sorted(func(yield func(string) bool) {
		for name := range c.project.Services {
			if !yield(name) {
				return
			}
		}
	})
	for _, name := range names {
		svc, err := c.convertService(c.project.Services[name])
		if err != nil {
			return nil, err
		}
		if svc != nil {
			res.Services = append(res.Services, svc)
		}
	}
	if c.configMap != nil {
		res.ConfigMaps = append(res.ConfigMaps, c.configMap)
	}
	if c.secret != nil {
		res.Secrets = append(res.Secrets, c.secret)
	}
	return res, nil
}

// rawMap returns dict[keys...] as a map, or nil.
func rawMap(dict map[string]any, keys ...string) map[string]any {
	cur := dict
	for _, k := range keys {
		next, ok := cur[k].(map[string]any)
		if !ok {
			return nil
		}
		cur = next
	}
	return cur
}

// relPath shows a path relative to the current directory when it is below it.
func relPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}
