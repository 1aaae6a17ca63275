package compose

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/desired"
	"github.com/kargo-io/kargo/internal/overlay"
	"github.com/kargo-io/kargo/internal/policy"
)

// WorkspaceOptions of a workspace conversion.
type WorkspaceOptions struct {
	// Dir is the old tool's workspace: Dir/.env (required), Dir/.env.default
	// (optional, read first, as the old tool did) and the compose files of
	// the services without a catalogue entry, Dir/deploy/<service>.yml.
	Dir string
	// Environment names the Environment; default "local".
	Environment string
	// Endpoint is the Swarm manager's Docker endpoint; default the .env's
	// DOCKER_HOST.
	Endpoint string
	// Namespace is the Kubernetes namespace of the objects; empty leaves
	// metadata.namespace unset.
	Namespace string
	// AllowUnsupported is passed on to the conversion of compose files.
	AllowUnsupported bool
}

// WorkspaceResult is what a workspace converts to.
type WorkspaceResult struct {
	Environment *v1alpha1.Environment
	// ConfigMaps: the .env files (one key each, their credentials taken
	// out), then the configs of converted compose files.
	ConfigMaps []*corev1.ConfigMap
	// Secrets: the credentials of the .env files, then the secrets of
	// converted compose files.
	Secrets []*corev1.Secret
	// Stacks in the order of STACKS, each depending on the one before.
	Stacks []*v1alpha1.Stack
	// Services converted from the compose files of services without a
	// catalogue entry.
	Services []*v1alpha1.Service
	// Warnings name the variable, service or key.
	Warnings []string
}

// The old tool's Swarm names: stack kargo-<stack>, shared overlay networks
// named by these variables.
const oldStackPrefix = "kargo-"

// sharedNetworks are the catalogue's logical networks and the old
// variables naming their Swarm networks, with the old defaults.
var sharedNetworks = []struct{ name, variable, fallback string }{
	{"front", "DOCKER_FRONT_NETWORK", "kargo-front"},
	{"back", "DOCKER_BACK_NETWORK", "kargo-back"},
	{"socket", "DOCKER_SOCKET_NETWORK", "kargo-docker-socket"},
}

// WorkspaceError lists every mistake found in a workspace.
type WorkspaceError struct{ Problems []string }

func (e *WorkspaceError) Error() string {
	return fmt.Sprintf("%d problem(s) in the workspace:\n  %s", len(e.Problems), strings.Join(e.Problems, "\n  "))
}

// workspace holds one workspace conversion.
type workspace struct {
	opts      WorkspaceOptions
	envPath   string
	dotenvs   []dotenvFile
	vars      *overlay.Variables
	secretVar map[string]bool // variables moved to the Secret
	entries   map[string]bool // catalogue names and aliases
	problems  []string
	res       *WorkspaceResult
	// deployed are the Services of each Stack, by Stack name: rendered
	// from entries, converted from compose files.
	deployed map[string][]v1alpha1.Service
}

// dotenvFile is one environment file of the workspace.
type dotenvFile struct{ key, path, content string }

// ConvertWorkspace reads an old-tool workspace and returns an Environment
// holding its .env, the Secret of its credentials and one Stack per STACKS
// name, each picking the catalogue entry of every service its <STACK>_STACK
// lists, or converting Dir/deploy/<service>.yml when there is no entry.
// Every mistake is reported at once, naming the variable and the value.
func ConvertWorkspace(opts WorkspaceOptions) (*WorkspaceResult, error) {
	if opts.Environment == "" {
		opts.Environment = "local"
	}
	w := &workspace{opts: opts, res: &WorkspaceResult{}, secretVar: map[string]bool{}, deployed: map[string][]v1alpha1.Service{}}
	if err := w.readDotenvs(); err != nil {
		return nil, err
	}
	entries, err := overlay.Entries()
	if err != nil {
		return nil, err
	}
	w.entries = map[string]bool{}
	for _, e := range entries {
		w.entries[e.Name] = true
		for _, a := range e.Aliases {
			w.entries[a] = true
		}
	}
	if err := w.environment(); err != nil {
		return nil, err
	}
	w.stacks()
	w.declareSharedNetworks()
	w.checkPolicy()
	w.nodeLabels()
	if len(w.problems) > 0 {
		return nil, &WorkspaceError{Problems: w.problems}
	}
	slices.Sort(w.res.Warnings)
	return w.res, nil
}

func (w *workspace) problem(format string, args ...any) {
	w.problems = append(w.problems, fmt.Sprintf(format, args...))
}

func (w *workspace) warn(format string, args ...any) {
	w.res.Warnings = append(w.res.Warnings, fmt.Sprintf(format, args...))
}

func (w *workspace) meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: w.opts.Namespace}
}

// readDotenvs reads Dir/.env.default (optional) and Dir/.env and resolves
// their variables as the old tool did, DOCKER_HOST from --endpoint below
// them.
func (w *workspace) readDotenvs() error {
	var sources []overlay.Source
	if w.opts.Endpoint != "" {
		sources = append(sources, overlay.Source{Origin: "--endpoint", Values: map[string]string{"DOCKER_HOST": w.opts.Endpoint}})
	}
	for _, key := range []string{".env.default", ".env"} {
		path := filepath.Join(w.opts.Dir, key)
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) && key == ".env.default" {
			continue
		}
		if err != nil {
			return fmt.Errorf("workspace: %w", err)
		}
		content := string(data)
		w.dotenvs = append(w.dotenvs, dotenvFile{key: key, path: path, content: content})
		sources = append(sources, overlay.Source{Origin: path, Dotenv: &content})
		w.envPath = path
	}
	vars, err := overlay.NewVariables(sources...)
	if err != nil {
		return fmt.Errorf("workspace: %w", err)
	}
	w.vars = vars
	return nil
}

func (w *workspace) lookup(name string) string {
	v, _ := w.vars.Lookup(name)
	return v
}

// environment builds the Environment, the ConfigMap of the .env files
// without their credentials, and the Secret of those.
func (w *workspace) environment() error {
	endpoint := w.lookup("DOCKER_HOST")
	if endpoint == "" {
		w.problem("DOCKER_HOST is not set in %s: pass the Swarm manager's endpoint with --endpoint", w.envPath)
	}
	env := &v1alpha1.Environment{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Environment"},
		ObjectMeta: w.meta(w.opts.Environment),
		Spec:       v1alpha1.EnvironmentSpec{Endpoint: v1alpha1.Endpoint{Host: endpoint}},
	}
	if strings.HasPrefix(endpoint, "tcp://") {
		tls := w.opts.Environment + "-tls"
		env.Spec.Endpoint.TLSSecretRef = &v1alpha1.LocalObjectReference{Name: tls}
		w.warn("DOCKER_HOST %s is TCP: create Secret %s with ca.crt, tls.crt and tls.key (the files of DOCKER_CERT_PATH: ca.pem, cert.pem, key.pem)", endpoint, tls)
	}

	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: w.meta(w.opts.Environment + "-dotenv"),
		Data:       map[string]string{},
	}
	secret := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: w.meta(w.secretName()),
		Type:       corev1.SecretTypeOpaque,
		StringData: map[string]string{},
	}
	for _, f := range w.dotenvs {
		content, err := w.withoutCredentials(f, secret.Name)
		if err != nil {
			return err
		}
		cm.Data[f.key] = content
		env.Spec.VariablesFrom = append(env.Spec.VariablesFrom, v1alpha1.VariablesSource{
			ConfigMapRef: &v1alpha1.VariablesReference{Name: cm.Name, Key: f.key},
		})
	}
	for name := range w.secretVar {
		secret.StringData[name] = w.lookup(name)
	}
	w.res.ConfigMaps = append(w.res.ConfigMaps, cm)
	if len(secret.StringData) > 0 {
		env.Spec.VariablesFrom = append(env.Spec.VariablesFrom, v1alpha1.VariablesSource{
			SecretRef: &v1alpha1.VariablesReference{Name: secret.Name},
		})
		w.res.Secrets = append(w.res.Secrets, secret)
	}
	w.res.Environment = env

	// What the cluster will resolve from these objects must be what the
	// workspace meant: a .env line reading a credential would now fail.
	get := func(name string, isSecret bool) (map[string]string, error) {
		if isSecret {
			return secret.StringData, nil
		}
		return cm.Data, nil
	}
	vars, err := overlay.EnvironmentVariables(&env.Spec, get)
	if err != nil {
		return fmt.Errorf("workspace: with its credentials moved to Secret %s: %w", secret.Name, err)
	}
	w.vars = vars
	return nil
}

// withoutCredentials returns the file with the assignments of credentials
// replaced by a comment saying where they went, and records them.
func (w *workspace) withoutCredentials(f dotenvFile, secretName string) (string, error) {
	lines := strings.SplitAfter(f.content, "\n")
	for _, a := range overlay.DotenvAssignments(f.content) {
		isSecret, err := overlay.IsSecretVariable(a.Name)
		if err != nil {
			return "", err
		}
		if !isSecret {
			continue
		}
		w.secretVar[a.Name] = true
		for l := a.FirstLine; l <= a.LastLine && l <= len(lines); l++ {
			text := ""
			if l == a.FirstLine {
				text = fmt.Sprintf("# %s: in Secret %s (kargo convert workspace)", a.Name, secretName)
			}
			if strings.HasSuffix(lines[l-1], "\n") {
				text += "\n"
			}
			lines[l-1] = text
		}
	}
	return strings.Join(lines, ""), nil
}

// stackVariable is the old tool's variable listing a stack's services.
func stackVariable(stack string) string {
	return strings.ToUpper(strings.ReplaceAll(stack, "-", "_")) + "_STACK"
}

var dnsLabelUpper = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`)

// stacks makes one Stack per STACKS name.
func (w *workspace) stacks() {
	names := strings.Fields(w.lookup("STACKS"))
	if len(names) == 0 {
		w.problem("STACKS is not set in %s: it lists the stacks to deploy, e.g. STACKS=\"dbs apps\"", w.envPath)
		return
	}
	var previous string
	for _, name := range names {
		variable := stackVariable(name)
		if !dnsLabelUpper.MatchString(name) || len(oldStackPrefix+name) > 63 {
			w.problem("STACKS lists %q: a stack name must be letters, digits and -", name)
			continue
		}
		services, set := w.vars.Lookup(variable)
		if !set {
			w.problem("STACKS lists %q, but %s is not set: list its services in %s=\"svc1 svc2\"", name, variable, variable)
			continue
		}
		if len(strings.Fields(services)) == 0 {
			w.problem("%s is empty: list the services of stack %q", variable, name)
			continue
		}
		stack := w.stack(strings.ToLower(name), variable, strings.Fields(services))
		if stack == nil {
			continue
		}
		if previous != "" {
			// The old tool deployed STACKS in order and removed them in
			// reverse: dependsOn keeps both orders.
			stack.Spec.DependsOn = []v1alpha1.LocalObjectReference{{Name: previous}}
		}
		previous = stack.Name
		w.res.Stacks = append(w.res.Stacks, stack)
	}
}

// stack makes the Stack of one STACKS name: catalogue entries first, then
// the services converted from compose files.
func (w *workspace) stack(name, variable string, services []string) *v1alpha1.Stack {
	stack := &v1alpha1.Stack{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Stack"},
		ObjectMeta: w.meta(name),
		Spec: v1alpha1.StackSpec{
			EnvironmentRef: v1alpha1.EnvironmentReference{Name: w.opts.Environment},
			Namespace:      oldStackPrefix + name,
		},
	}
	var files []string
	ok := true
	for _, svc := range services {
		if ext := w.lookup(serviceVariable(svc, "EXTENSION")); ext != "" {
			w.warn("%s=%s is not converted: write what it changes as a patch in spec.patches of Stack %s", serviceVariable(svc, "EXTENSION"), ext, name)
		}
		if w.entries[svc] {
			stack.Spec.Services = append(stack.Spec.Services, v1alpha1.CatalogService{Name: svc})
			if !w.declareEntrySecrets(stack, variable, svc) {
				ok = false
			}
			continue
		}
		file := w.composeFile(svc)
		if file == "" {
			w.problem("%s lists %q: there is no catalogue entry of that name (%skargo catalog lists them) and no file %s",
				variable, svc, w.suggest(svc), filepath.Join(w.opts.Dir, "deploy", svc+".yml"))
			ok = false
			continue
		}
		files = append(files, file)
	}
	if !ok {
		return nil
	}
	if !w.renderEntries(stack, variable) {
		return nil
	}
	if len(files) > 0 && !w.convertFiles(stack, variable, files) {
		return nil
	}
	return stack
}

// serviceVariable is the old tool's per-service variable:
// mongo-express, EXTENSION → MONGO_EXPRESS_EXTENSION.
func serviceVariable(service, suffix string) string {
	return strings.ToUpper(strings.ReplaceAll(service, "-", "_")) + "_" + suffix
}

// declareEntrySecrets declares the Swarm secrets an entry needs, from the
// old variables now in the Secret.
func (w *workspace) declareEntrySecrets(stack *v1alpha1.Stack, variable, svc string) bool {
	ok := true
	for _, sv := range overlay.SecretVariablesOf(svc) {
		if w.lookup(sv.Variable) == "" {
			w.problem("%s lists %q: its secret %s takes its value from %s, which is not set (or empty) in %s",
				variable, svc, sv.Secret, sv.Variable, w.envPath)
			ok = false
			continue
		}
		if slices.ContainsFunc(stack.Spec.Secrets, func(s v1alpha1.StackSecret) bool { return s.Name == sv.Secret }) {
			continue
		}
		stack.Spec.Secrets = append(stack.Spec.Secrets, v1alpha1.StackSecret{
			Name:         sv.Secret,
			SecretKeyRef: v1alpha1.KeySelector{Name: w.secretName(), Key: sv.Variable},
		})
	}
	return ok
}

// renderEntries renders the Stack's entries as the controller will, with
// the variables the Environment will have: a missing variable is reported
// now. The shared networks the Services join are declared external, under
// the Swarm names of DOCKER_*_NETWORK: the old tool created them outside
// any stack, and they are in use.
func (w *workspace) renderEntries(stack *v1alpha1.Stack, variable string) bool {
	out, err := overlay.Render(overlay.Input{Stack: stack, Variables: w.vars})
	if err != nil {
		w.problem("%s (stack %s): %v", variable, stack.Name, err)
		return false
	}
	used := map[string]bool{}
	for _, svc := range out.Services {
		for _, n := range svc.Spec.Networks {
			used[n.Name] = true
		}
	}
	for _, n := range sharedNetworks {
		if used[n.name] {
			stack.Spec.Networks = append(stack.Spec.Networks, v1alpha1.Network{Name: n.name, SwarmName: w.sharedNetwork(n.variable, n.fallback), External: true})
		}
	}
	w.deployed[stack.Name] = append(w.deployed[stack.Name], out.Services...)
	return true
}

// sharedNetwork is the Swarm name of a shared network: the variable's
// value, else the old default.
func (w *workspace) sharedNetwork(variable, fallback string) string {
	if name := w.lookup(variable); name != "" {
		return name
	}
	return fallback
}

// declareSharedNetworks lists in the Environment's spec.sharedNetworks the
// networks of DOCKER_*_NETWORK that its Stacks join as external (catalogue
// entries and compose files alike): the old tool created them outside any
// stack, and the Environment's policy lets Stacks join only those.
func (w *workspace) declareSharedNetworks() {
	oldNames := map[string]bool{}
	for _, n := range sharedNetworks {
		oldNames[w.sharedNetwork(n.variable, n.fallback)] = true
	}
	env := &w.res.Environment.Spec
	for _, stack := range w.res.Stacks {
		for _, n := range stack.Spec.Networks {
			name := desired.NetworkName(stack.Spec.Namespace, n)
			if n.External && oldNames[name] && !slices.Contains(env.SharedNetworks, name) {
				env.SharedNetworks = append(env.SharedNetworks, name)
			}
		}
	}
	slices.Sort(env.SharedNetworks)
}

// checkPolicy warns of what the Environment's policy, as converted (no
// spec.policy), refuses: host paths above all, which the old tool bound
// freely. The Stack reconciler refuses such a Stack until an admin allows
// what it needs in the Environment's spec.policy.
func (w *workspace) checkPolicy() {
	for _, stack := range w.res.Stacks {
		var denied *policy.Error
		if errors.As(policy.Check(&w.res.Environment.Spec, stack, w.deployed[stack.Name]), &denied) {
			for _, v := range denied.Violations {
				w.warn("stack %s: %s", stack.Name, v)
			}
		}
	}
}

// composeFile is the compose file of a service without an entry, or "".
func (w *workspace) composeFile(svc string) string {
	for _, ext := range []string{".yml", ".yaml"} {
		path := filepath.Join(w.opts.Dir, "deploy", svc+ext)
		if _, err := os.Stat(path); err == nil {
			return path
		}
	}
	return ""
}

// suggest names the entries a mistyped service may have meant.
func (w *workspace) suggest(svc string) string {
	var near []string
	for name := range w.entries {
		if strings.HasPrefix(name, svc) || strings.HasPrefix(svc, name) {
			near = append(near, name)
		}
	}
	if len(near) == 0 {
		return ""
	}
	slices.Sort(near)
	if len(near) > 1 {
		near = []string{strings.Join(near[:len(near)-1], ", "), near[len(near)-1]}
	}
	return "did you mean " + strings.Join(near, " or ") + "? "
}

// convertFiles converts the compose files of a Stack's services without an
// entry, merged as the old tool deployed them (docker stack deploy -c a -c
// b kargo-<stack>), and adds them to the Stack.
func (w *workspace) convertFiles(stack *v1alpha1.Stack, variable string, files []string) bool {
	variables := map[string]string{}
	for _, f := range w.dotenvs {
		for _, a := range overlay.DotenvAssignments(f.content) {
			variables[a.Name] = w.lookup(a.Name)
		}
	}
	res, err := Convert(Options{
		Files:            files,
		Variables:        variables,
		Stack:            stack.Spec.Namespace,
		Environment:      w.opts.Environment,
		Namespace:        w.opts.Namespace,
		AllowUnsupported: w.opts.AllowUnsupported,
	})
	if err != nil {
		w.problem("%s (stack %s): %v", variable, stack.Name, err)
		return false
	}
	// compose-go names the files by their absolute paths: say them as
	// the user gave the workspace.
	abs, _ := filepath.Abs(w.opts.Dir)
	for _, warning := range res.Warnings {
		w.warn("stack %s: %s", stack.Name, strings.ReplaceAll(warning, abs+string(filepath.Separator), ""))
	}
	for _, n := range res.Stack.Spec.Networks {
		if !slices.ContainsFunc(stack.Spec.Networks, func(have v1alpha1.Network) bool { return have.Name == n.Name }) {
			stack.Spec.Networks = append(stack.Spec.Networks, n)
		}
	}
	stack.Spec.Configs = append(stack.Spec.Configs, res.Stack.Spec.Configs...)
	stack.Spec.Secrets = append(stack.Spec.Secrets, res.Stack.Spec.Secrets...)
	w.res.ConfigMaps = append(w.res.ConfigMaps, res.ConfigMaps...)
	w.res.Secrets = append(w.res.Secrets, res.Secrets...)
	credentials := w.credentialValues()
	for _, svc := range res.Services {
		svc.Spec.StackRef.Name = stack.Name
		w.referenceCredentials(svc, credentials)
		w.res.Services = append(w.res.Services, svc)
		w.deployed[stack.Name] = append(w.deployed[stack.Name], *svc)
	}
	return true
}

// credentialValues maps the non-empty values of the credentials moved to
// the Secret to their variables.
func (w *workspace) credentialValues() map[string]string {
	out := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(w.secretVar)) {
		if v := w.lookup(name); v != "" {
			out[v] = name
		}
	}
	return out
}

// referenceCredentials replaces each env value of a converted Service that
// is exactly a credential's value with a reference to the Secret key: the
// compose file substituted it, and a Service object must not hold it.
func (w *workspace) referenceCredentials(svc *v1alpha1.Service, credentials map[string]string) {
	for i, e := range svc.Spec.Env {
		name, ok := credentials[e.Value]
		if e.ValueFrom != nil || !ok {
			continue
		}
		svc.Spec.Env[i].Value = ""
		svc.Spec.Env[i].ValueFrom = &v1alpha1.EnvVarSource{
			SecretKeyRef: &v1alpha1.KeySelector{Name: w.secretName(), Key: name},
		}
	}
}

// nodeLabels turns the old <NODE>_LABELS="k=v k2=v2" variables into the
// Environment's nodeLabels. The old name upper-cased the hostname and
// turned - into _: the hostname is read back lower-cased with -, and said
// in a warning so that it is checked against docker node ls.
func (w *workspace) nodeLabels() {
	for _, f := range w.dotenvs {
		for _, a := range overlay.DotenvAssignments(f.content) {
			host, ok := strings.CutSuffix(a.Name, "_LABELS")
			if !ok || host == "" {
				continue
			}
			labels := map[string]string{}
			for _, pair := range strings.Fields(w.lookup(a.Name)) {
				k, v, ok := strings.Cut(pair, "=")
				if !ok || k == "" {
					labels = nil
					break
				}
				labels[k] = v
			}
			if len(labels) == 0 {
				continue
			}
			hostname := strings.ToLower(strings.ReplaceAll(host, "_", "-"))
			env := w.res.Environment
			env.Spec.NodeLabels = slices.DeleteFunc(env.Spec.NodeLabels, func(n v1alpha1.NodeLabels) bool { return n.Hostname == hostname })
			env.Spec.NodeLabels = append(env.Spec.NodeLabels, v1alpha1.NodeLabels{Hostname: hostname, Labels: labels})
			w.warn("%s: labels for node %q: check that it is the node's hostname (docker node ls)", a.Name, hostname)
		}
	}
}

// Objects returns the objects in the order to apply them.
func (r *WorkspaceResult) Objects() []any {
	objs := []any{r.Environment}
	for _, cm := range r.ConfigMaps {
		objs = append(objs, cm)
	}
	for _, s := range r.Secrets {
		objs = append(objs, s)
	}
	for _, s := range r.Stacks {
		objs = append(objs, s)
	}
	for _, s := range r.Services {
		objs = append(objs, s)
	}
	return objs
}

// YAML renders the objects as multi-document YAML for kubectl apply -f -.
func (r *WorkspaceResult) YAML() ([]byte, error) { return overlay.ManifestYAML(r.Objects()...) }

// secretName is the Secret holding the credentials of the .env files.
func (w *workspace) secretName() string { return w.opts.Environment + "-secrets" }
