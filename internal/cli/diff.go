package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	dockerswarm "github.com/docker/docker/api/types/swarm"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/controllers"
	"github.com/kargo-io/kargo/internal/desired"
	"github.com/kargo-io/kargo/internal/diff"
	"github.com/kargo-io/kargo/internal/policy"
	"github.com/kargo-io/kargo/internal/swarm"
)

// exitError ends the kargo command with a code other than 1 (kargo diff:
// 1 when something differs, 2 on error); err, when set, is printed.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func newDiffCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "diff -f FILE|DIR [-f FILE|DIR]... [--kubeconfig FILE] [-n NAMESPACE]",
		Short: "Show what applying manifests would change in the cluster and on the Swarm",
		Long: `Shows what kubectl apply of the manifests would change, field by field,
without changing anything:

  - each object of the files (Environments, Stacks, Services, ConfigMaps,
    Secrets) against the one in the cluster (a server-side dry run; status
    and metadata other than labels and annotations are ignored);
  - the merged Services each Stack renders from its catalog entries (with
    its Environment's variables, as the Stack reconciler renders them)
    against the cluster's;
  - the Swarm spec of each Service of those Stacks (converted and
    normalized as the reconciler does) against the live Swarm service.

A Stack its Environment's spec.policy refuses is listed as denied, with
every violation, and its Swarm services are not compared: the reconciler
would change nothing there.

Stacks compared are those of the files, those their Services name, and every
Stack of a namespace whose Environment, ConfigMaps or Secrets the files hold.
What the files hold wins over the cluster. Objects, Swarm services, networks,
configs and secrets that do not exist yet are listed as created, rendered
Services and Swarm services that would be removed as deleted. Values of
Secrets, and env values read from Secrets, print as <redacted>.

Exit status: 0 when nothing differs, 1 when something does, 2 on error.`,
		Example: `  kargo diff -f env.yaml -f stack.yaml
  kargo diff -f manifests/ --kubeconfig ~/.kube/management
  kargo convert compose -f docker-compose.yml --stack geo | kargo diff -f -

  # output: one block per object that differs
  Service geo/web: changed
    spec.env[LOG_LEVEL].value: "info" → "debug"
  Swarm service geo_web: changed
    TaskTemplate.ContainerSpec.Env[LOG_LEVEL]: "info" → "debug"`,
	}
	var o diffOptions
	cmd.Flags().StringArrayVarP(&o.files, "file", "f", nil, "YAML FILE, or DIR of .yaml/.yml/.json files, of manifests (repeatable; - for stdin)")
	o.cluster.addFlags(cmd, "namespace of the objects that name none")
	cmd.Flags().StringVar(&o.clusterResourceNamespace, "cluster-resource-namespace", controllers.DefaultClusterResourceNamespace, "namespace where the manager reads ClusterEnvironments' TLS Secrets and variablesFrom (as its own flag)")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &exitError{code: 2, err: err} })
	cmd.Args = func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return &exitError{code: 2, err: fmt.Errorf("diff: unexpected argument %q (files are given with -f)", args[0])}
		}
		return nil
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		changed, err := runDiff(c.Context(), o, c.OutOrStdout(), c.ErrOrStderr())
		switch {
		case err != nil:
			return &exitError{code: 2, err: fmt.Errorf("diff: %w", err)}
		case changed:
			return &exitError{code: 1}
		}
		return nil
	}
	return cmd
}

// diffOptions are kargo diff's flags.
type diffOptions struct {
	files                    []string
	cluster                  clusterOptions
	clusterResourceNamespace string
}

// clusterScheme holds the kinds the commands read from a cluster:
// Kubernetes' own and Kargo's.
var clusterScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(kargov1.AddToScheme(s))
	return s
}()

// runDiff prints what applying the files would change and tells whether
// anything would. Nothing is printed on stdout unless everything could be
// compared.
func runDiff(ctx context.Context, o diffOptions, stdout, stderr io.Writer) (bool, error) {
	if len(o.files) == 0 {
		return false, errors.New("no file given (-f FILE; kargo diff -h shows the usage)")
	}
	cluster, namespace, err := o.cluster.connect()
	if err != nil {
		return false, err
	}
	files, err := readManifests(o.files, namespace, stderr)
	if err != nil {
		return false, err
	}
	d := &differ{ctx: ctx, files: files, cluster: cluster, reader: layered{files: files, cluster: cluster}, stderr: stderr}
	d.engines.ClusterResourceNamespace = o.clusterResourceNamespace
	defer d.closeEngines()
	if err := d.run(); err != nil {
		return false, err
	}
	_, err = stdout.Write(d.out.Bytes())
	return d.changed, err
}

// manifest is one object of the files.
type manifest struct {
	obj *unstructured.Unstructured
	doc document
}

// manifests are the objects of the files, in their order, and by kind,
// namespace and name.
type manifests struct {
	list  []manifest
	byKey map[manifestKey]*unstructured.Unstructured
}

type manifestKey struct{ kind, namespace, name string }

// diffKinds are the kinds kargo diff compares, by apiVersion.
var diffKinds = map[string][]string{
	kargov1.GroupVersion.String(): {"Environment", "Stack", "Service"},
	"v1":                          {"ConfigMap", "Secret"},
}

// readManifests reads the -f arguments: files, directories (their .yaml,
// .yml and .json files, recursively, in lexical order) and - for stdin.
func readManifests(args []string, namespace string, stderr io.Writer) (*manifests, error) {
	m := &manifests{byKey: map[manifestKey]*unstructured.Unstructured{}}
	stdinRead := false
	for _, arg := range args {
		names := []string{arg}
		if arg == "-" {
			if stdinRead {
				return nil, errors.New("-f - given twice (stdin can be read once)")
			}
			stdinRead = true
		} else if info, err := os.Stat(arg); err != nil {
			return nil, fmt.Errorf("file %s: %w", arg, err)
		} else if info.IsDir() {
			names = nil
			err := filepath.WalkDir(arg, func(p string, e fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if !e.IsDir() && slices.Contains([]string{".yaml", ".yml", ".json"}, filepath.Ext(p)) {
					names = append(names, p)
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("directory %s: %w", arg, err)
			}
		}
		for _, name := range names {
			if err := m.readFile(name, namespace, stderr); err != nil {
				return nil, err
			}
		}
	}
	if len(m.list) == 0 {
		return nil, errors.New("no Environment, Stack, Service, ConfigMap or Secret in the files")
	}
	return m, nil
}

func (m *manifests) readFile(name, namespace string, stderr io.Writer) error {
	return eachDocument(name, func(doc document, obj map[string]any, _ []byte) error {
		return m.add(doc, &unstructured.Unstructured{Object: obj}, namespace, stderr)
	})
}

func (m *manifests) add(doc document, u *unstructured.Unstructured, namespace string, stderr io.Writer) error {
	if !slices.Contains(diffKinds[u.GetAPIVersion()], u.GetKind()) {
		fmt.Fprintf(stderr, "kargo diff: %s: skipped (%s %s %s): diff compares Environments, Stacks, Services, ConfigMaps and Secrets\n",
			doc, u.GetAPIVersion(), u.GetKind(), u.GetName())
		return nil
	}
	if u.GetName() == "" {
		return fmt.Errorf("%s without metadata.name", u.GetKind())
	}
	if u.GetNamespace() == "" {
		u.SetNamespace(namespace)
	}
	// Decoding checks the fields (unknown ones are errors, as kubectl
	// apply's validation makes them); its messages name fields, never values.
	typed, err := clusterScheme.New(u.GroupVersionKind())
	if err != nil {
		return err
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, typed, true); err != nil {
		return fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
	}
	if secret, ok := typed.(*corev1.Secret); ok {
		// stringData is written into data by the API server: compare data.
		for k, v := range secret.StringData {
			if secret.Data == nil {
				secret.Data = map[string][]byte{}
			}
			secret.Data[k] = []byte(v)
		}
		secret.StringData = nil
		obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(secret)
		if err != nil {
			return fmt.Errorf("Secret %s: %w", u.GetName(), err)
		}
		u.Object = obj
		u.SetAPIVersion("v1")
		u.SetKind("Secret")
	}
	key := manifestKey{u.GetKind(), u.GetNamespace(), u.GetName()}
	if _, dup := m.byKey[key]; dup {
		return fmt.Errorf("a second %s %s/%s", key.kind, key.namespace, key.name)
	}
	m.byKey[key] = u
	m.list = append(m.list, manifest{obj: u, doc: doc})
	return nil
}

// layered reads objects from the files first, then from the cluster: what
// the cluster will hold once the files are applied.
type layered struct {
	files   *manifests
	cluster client.Reader
}

func (l layered) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	gvk, err := apiutil.GVKForObject(obj, clusterScheme)
	if err != nil {
		return err
	}
	if u, ok := l.files.byKey[manifestKey{gvk.Kind, key.Namespace, key.Name}]; ok {
		return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj)
	}
	return l.cluster.Get(ctx, key, obj, opts...)
}

func (l layered) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return l.cluster.List(ctx, list, opts...)
}

// differ compares the files with the cluster and the Swarms.
type differ struct {
	ctx     context.Context
	files   *manifests
	cluster client.Client
	reader  layered
	engines controllers.Engines
	// managerID is the manager's identity label (see controllers.InstallationID).
	managerID string
	used      []types.NamespacedName
	stderr    io.Writer
	out       bytes.Buffer
	changed   bool
}

func (d *differ) closeEngines() {
	for _, key := range d.used {
		d.engines.Forget(key)
	}
}

// report prints one object's block; lines are its differing fields.
func (d *differ) report(what, verb string, lines ...string) {
	d.changed = true
	fmt.Fprintf(&d.out, "%s: %s\n", what, verb)
	for _, l := range lines {
		fmt.Fprintf(&d.out, "  %s\n", l)
	}
}

func (d *differ) run() error {
	for _, m := range d.files.list {
		if err := d.object(m.obj.DeepCopy()); err != nil {
			return fmt.Errorf("%s: %w", m.doc, err)
		}
	}
	stacks, err := d.stacks()
	if err != nil {
		return err
	}
	for _, stack := range stacks {
		if err := d.stack(stack); err != nil {
			return fmt.Errorf("stack %s/%s: %w", stack.Namespace, stack.Name, err)
		}
	}
	return nil
}

// object compares an object as it would be written with the cluster's:
// created when missing, else a server-side dry-run update (defaults and
// validation included) compared with the live object.
func (d *differ) object(want *unstructured.Unstructured) error {
	what := fmt.Sprintf("%s %s/%s", want.GetKind(), want.GetNamespace(), want.GetName())
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(want.GroupVersionKind())
	err := d.cluster.Get(d.ctx, client.ObjectKeyFromObject(want), live)
	if apierrors.IsNotFound(err) {
		d.report(what, "created")
		return nil
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", what, err)
	}
	// What kubectl apply keeps of the live metadata.
	want.SetResourceVersion(live.GetResourceVersion())
	want.SetOwnerReferences(live.GetOwnerReferences())
	want.SetFinalizers(live.GetFinalizers())
	if err := d.cluster.Update(d.ctx, want, client.DryRunAll); err != nil {
		return fmt.Errorf("dry-run update of %s: %w", what, err)
	}
	var redact diff.Redactor
	if want.GetKind() == "Secret" {
		redact = diff.Under("data", "stringData")
	}
	if lines := fields(comparable(live), comparable(want), redact); len(lines) > 0 {
		d.report(what, "changed", lines...)
	}
	return nil
}

// comparable is what kargo diff compares of an object: everything but
// status and the metadata the API server and controllers write.
func comparable(u *unstructured.Unstructured) map[string]any {
	out := map[string]any{}
	for k, v := range u.Object {
		switch k {
		case "apiVersion", "kind", "metadata", "status":
		default:
			out[k] = v
		}
	}
	meta := map[string]any{}
	if labels := u.GetLabels(); len(labels) > 0 {
		meta["labels"] = toAny(labels)
	}
	annotations := u.GetAnnotations()
	delete(annotations, corev1.LastAppliedConfigAnnotation)
	if len(annotations) > 0 {
		meta["annotations"] = toAny(annotations)
	}
	out["metadata"] = meta
	return out
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func fields(live, merged any, redact diff.Redactor) []string {
	var lines []string
	for _, f := range diff.Compare(live, merged) {
		lines = append(lines, f.Format(redact))
	}
	return lines
}

// stacks are the Stacks whose Swarm services are compared: those of the
// files, those the files' Services name, and every Stack of a namespace
// whose Environment, ConfigMaps or Secrets the files hold; as the files
// would leave them, sorted.
func (d *differ) stacks() ([]*kargov1.Stack, error) {
	keys := map[types.NamespacedName]bool{}
	namespaces := map[string]bool{}
	for _, m := range d.files.list {
		switch m.obj.GetKind() {
		case "Stack":
			keys[types.NamespacedName{Namespace: m.obj.GetNamespace(), Name: m.obj.GetName()}] = true
		case "Service":
			name, _, _ := unstructured.NestedString(m.obj.Object, "spec", "stackRef", "name")
			keys[types.NamespacedName{Namespace: m.obj.GetNamespace(), Name: name}] = true
		default:
			namespaces[m.obj.GetNamespace()] = true
		}
	}
	for ns := range namespaces {
		var list kargov1.StackList
		if err := d.cluster.List(d.ctx, &list, client.InNamespace(ns)); err != nil {
			return nil, fmt.Errorf("list stacks of namespace %s: %w", ns, err)
		}
		for _, s := range list.Items {
			keys[client.ObjectKeyFromObject(&s)] = true
		}
	}
	var stacks []*kargov1.Stack
	for key := range keys {
		stack := &kargov1.Stack{}
		err := d.reader.Get(d.ctx, key, stack)
		if apierrors.IsNotFound(err) {
			// A Service of the files names a Stack that is nowhere: the
			// Service is compared, it deploys nothing.
			fmt.Fprintf(d.stderr, "kargo diff: stack %s: not found in the files or the cluster: its Services deploy nothing\n", key)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("stack %s: %w", key, err)
		}
		// The cluster's identity, so that ownership reads as on the cluster.
		live := &kargov1.Stack{}
		if err := d.cluster.Get(d.ctx, key, live); err == nil {
			stack.UID = live.UID
		} else if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("stack %s: %w", key, err)
		}
		stacks = append(stacks, stack)
	}
	sort.Slice(stacks, func(i, j int) bool { return desired.Owner(stacks[i]) < desired.Owner(stacks[j]) })
	return stacks, nil
}

// stack compares what a Stack renders with the cluster, and what it
// deploys with its Swarm.
func (d *differ) stack(stack *kargov1.Stack) error {
	if stack.Spec.Suspend {
		fmt.Fprintf(d.stderr, "kargo diff: stack %s/%s is suspended: its Swarm services are not compared\n", stack.Namespace, stack.Name)
		return nil
	}
	ref := stack.Spec.EnvironmentRef
	var env kargov1.EnvironmentObject = &kargov1.Environment{}
	key, sources := types.NamespacedName{Namespace: stack.Namespace, Name: ref.Name}, stack.Namespace
	if ref.IsCluster() {
		env, key, sources = &kargov1.ClusterEnvironment{}, types.NamespacedName{Name: ref.Name}, d.engines.ClusterResourceNamespace
	}
	if err := d.reader.Get(d.ctx, key, env); err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	out, err := desired.Render(stack, env, desired.Data(d.ctx, d.reader, sources))
	if err != nil {
		return err
	}
	objects, err := d.serviceObjects(stack)
	if err != nil {
		return err
	}
	if err := d.rendered(stack, objects, out.Services); err != nil {
		return err
	}
	services := desired.Services(stack, objects, out.Services)
	sort.Slice(services, func(i, j int) bool { return services[i].Name < services[j].Name })
	var denied *policy.Error
	if errors.As(policy.Check(env.EnvironmentSpec(), stack, services), &denied) {
		// The reconciler would change nothing on the Swarm.
		d.report(fmt.Sprintf("Stack %s/%s", stack.Namespace, stack.Name), "denied by the Environment's policy (PolicyDenied): nothing would change on the Swarm", denied.Lines()...)
		return nil
	}
	return d.swarmServices(stack, env, out.Configs, services, objects)
}

// serviceObjects are the Service objects naming the Stack once the files
// are applied: the cluster's, replaced or completed by the files'.
func (d *differ) serviceObjects(stack *kargov1.Stack) ([]kargov1.Service, error) {
	var list kargov1.ServiceList
	if err := d.cluster.List(d.ctx, &list, client.InNamespace(stack.Namespace), client.MatchingFields{kargov1.ServiceStackRefField: stack.Name}); err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	objects := slices.DeleteFunc(list.Items, func(svc kargov1.Service) bool {
		_, inFiles := d.files.byKey[manifestKey{"Service", svc.Namespace, svc.Name}]
		return inFiles
	})
	for _, m := range d.files.list {
		if m.obj.GetKind() != "Service" || m.obj.GetNamespace() != stack.Namespace {
			continue
		}
		var svc kargov1.Service
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m.obj.Object, &svc); err != nil {
			return nil, fmt.Errorf("service %s: %w", svc.Name, err)
		}
		if svc.Spec.StackRef.Name == stack.Name {
			objects = append(objects, svc)
		}
	}
	return objects, nil
}

// rendered compares the Services a Stack renders with the cluster's, as
// the reconciler writes them (spec and labels of the rendered object), and
// lists the rendered Services it would delete.
func (d *differ) rendered(stack *kargov1.Stack, objects, rendered []kargov1.Service) error {
	for i := range rendered {
		svc := &rendered[i]
		j := slices.IndexFunc(objects, func(o kargov1.Service) bool { return o.Name == svc.Name })
		if j >= 0 && !metav1.IsControlledBy(&objects[j], stack) {
			return fmt.Errorf("spec.services: Service %s exists and was not rendered by this Stack: rename the catalog service or the Service", svc.Name)
		}
		want := svc.DeepCopy()
		if j >= 0 {
			want = objects[j].DeepCopy()
			want.Spec, want.Labels = svc.Spec, svc.Labels
		}
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(want)
		if err != nil {
			return fmt.Errorf("service %s: %w", svc.Name, err)
		}
		obj := &unstructured.Unstructured{Object: u}
		obj.SetGroupVersionKind(kargov1.GroupVersion.WithKind("Service"))
		if err := d.object(obj); err != nil {
			return err
		}
	}
	for _, o := range objects {
		if metav1.IsControlledBy(&o, stack) && !slices.ContainsFunc(rendered, func(r kargov1.Service) bool { return r.Name == o.Name }) {
			d.report(fmt.Sprintf("Service %s/%s", o.Namespace, o.Name), "deleted (no longer rendered by its Stack)")
		}
	}
	return nil
}

// swarmServices compares the Swarm spec of each Service with the live
// service, after resolving the Stack's networks, configs and secrets to
// the Swarm objects the reconciler would use (those missing are listed as
// created).
func (d *differ) swarmServices(stack *kargov1.Stack, env kargov1.EnvironmentObject, renderedConfigs map[string][]byte, services, objects []kargov1.Service) error {
	engine, err := d.engines.For(d.ctx, d.reader, env)
	if err != nil {
		return fmt.Errorf("%s: %w", env.EnvironmentReference(), err)
	}
	d.used = append(d.used, client.ObjectKeyFromObject(env))
	ns := desired.Namespace(stack)
	if d.managerID == "" {
		// The manager's default identity (--manager-id unset): its
		// objects carry it as a label.
		id, err := controllers.InstallationID(d.ctx, d.cluster)
		if err != nil {
			return err
		}
		d.managerID = id
	}
	objs := swarm.StackObjects{
		Namespace: ns, Owner: desired.Owner(stack), Manager: d.managerID,
		Networks: map[string]string{}, Configs: map[string]swarm.ObjectRef{}, Secrets: map[string]swarm.ObjectRef{},
	}
	for _, n := range stack.Spec.Networks {
		name := desired.NetworkName(ns, n)
		if n.External {
			id, err := engine.ExternalNetwork(d.ctx, name)
			if err != nil {
				return err
			}
			objs.Networks[n.Name] = id
			continue
		}
		id, found, err := engine.LookupNetwork(d.ctx, name)
		if err != nil {
			return err
		}
		if !found {
			id = "(new network " + name + ")"
			d.report("Swarm network "+name, "created")
		}
		objs.Networks[n.Name] = id
	}
	keys := desired.Keys(d.ctx, d.reader, stack.Namespace)
	files, err := desired.Files(stack, renderedConfigs, keys)
	if err != nil {
		return err
	}
	// Versions are named with the Stack's naming key; without one yet
	// (a new Stack), the reconcile makes it and every version is new.
	key, _, err := desired.NamingKey(d.ctx, d.cluster, stack)
	if err != nil {
		return err
	}
	for _, f := range files {
		name, found, ref := swarm.ScopedName(ns, f.Name)+"-(new naming key)", false, swarm.ObjectRef{}
		if key != nil {
			name = swarm.VersionedName(key, ns, f.Name, f.Data)
			if ref, found, err = engine.LookupFile(d.ctx, f.Kind, name); err != nil {
				return err
			}
		}
		if !found {
			ref = swarm.ObjectRef{ID: "(new " + f.Kind + " " + name + ")", Name: name}
			d.report("Swarm "+f.Kind+" "+name, "created")
		}
		if f.Kind == swarm.KindConfig {
			objs.Configs[f.Name] = ref
		} else {
			objs.Secrets[f.Name] = ref
		}
	}
	wanted := map[string]bool{}
	for i := range services {
		svc := &services[i]
		values, err := desired.Env(svc, keys)
		if err != nil {
			return err
		}
		o := objs
		o.Env = values
		spec, err := desired.ServiceSpec(svc, env.EnvironmentSpec().Defaults, o)
		if err != nil {
			return fmt.Errorf("service %s: %w", svc.Name, err)
		}
		wanted[spec.Name] = true
		what := "Swarm service " + spec.Name
		live, found, err := engine.InspectService(d.ctx, spec.Name)
		switch {
		case err != nil:
			return err
		case !found:
			d.report(what, "created")
			continue
		case live.Spec.Labels[kargov1.OwnerLabel] != objs.Owner:
			owner := live.Spec.Labels[kargov1.OwnerLabel]
			if owner == "" {
				owner = "nobody (not managed by Kargo)"
			}
			d.report(what, "conflict: owned by "+owner+", left untouched")
			continue
		}
		// Env values read from Secrets are secret, in the spec applied
		// before too (the Service of the cluster may have read them).
		secretEnv := desired.SecretEnv(svc)
		if k := slices.IndexFunc(objects, func(o kargov1.Service) bool { return o.Name == svc.Name }); k >= 0 {
			secretEnv = append(secretEnv, desired.SecretEnv(&objects[k])...)
		}
		var redacted []string
		for _, name := range secretEnv {
			redacted = append(redacted, "TaskTemplate.ContainerSpec.Env["+name+"]")
		}
		if lines := fields(swarmView(live.Spec), swarmView(spec), diff.Under(redacted...)); len(lines) > 0 {
			d.report(what, "changed", lines...)
		}
	}
	if stack.Spec.Prune != nil && !*stack.Spec.Prune {
		return nil
	}
	owned, err := engine.ListOwned(d.ctx, objs.Claim())
	if err != nil {
		return err
	}
	for _, svc := range owned.Services {
		if !wanted[svc.Spec.Name] {
			d.report("Swarm service "+svc.Spec.Name, "deleted (pruned)")
		}
	}
	return nil
}

// swarmView is a Swarm spec as the reconciler compares it (normalized),
// its env as a map by name when the names are distinct.
func swarmView(spec dockerswarm.ServiceSpec) map[string]any {
	m := swarm.Normalize(spec)
	container, _ := m["TaskTemplate"].(map[string]any)["ContainerSpec"].(map[string]any)
	list, ok := container["Env"].([]any)
	if !ok {
		return m
	}
	env := diff.Keyed{}
	for _, e := range list {
		s, _ := e.(string)
		name, value, _ := strings.Cut(s, "=")
		if _, dup := env[name]; dup {
			return m
		}
		env[name] = value
	}
	container["Env"] = env
	return m
}
