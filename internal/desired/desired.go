// Package desired computes what the Stack reconciler deploys on the Swarm
// for a Stack, from its inputs alone: the Swarm namespace and owner, the
// merged configuration, the Services, network names, config and secret
// files, env values read through valueFrom, and each Service's Swarm spec.
// The reconciler and kargo diff call the same functions, so a diff shows
// what a reconcile would apply.
package desired

import (
	"context"
	"fmt"
	"maps"
	"slices"

	dockerswarm "github.com/docker/docker/api/types/swarm"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/overlay"
	"github.com/kargo-io/kargo/internal/swarm"
)

// Namespace is the Swarm stack namespace of a Stack: spec.namespace, else
// its name.
func Namespace(stack *v1alpha1.Stack) string {
	if stack.Spec.Namespace != "" {
		return stack.Spec.Namespace
	}
	return stack.Name
}

// Owner is the value of the owner label on the Swarm objects of a Stack.
func Owner(stack *v1alpha1.Stack) string { return stack.Namespace + "/" + stack.Name }

// NetworkName is the Swarm name of a network the Stack declares:
// swarmName, else <namespace>_<name>.
func NetworkName(namespace string, n v1alpha1.Network) string {
	if n.SwarmName != "" {
		return n.SwarmName
	}
	if n.External {
		return n.Name
	}
	return swarm.ScopedName(namespace, n.Name)
}

// NamingKeyField is the key of a naming key Secret's data that holds the
// key (32 random bytes).
const NamingKeyField = "key"

// NamingKeySecret is the name of the Secret, in the Stack's namespace,
// that holds its naming key: the key of the digests that name its config
// and secret versions and of its spec hashes (swarm.Digest). The Stack
// reconciler creates it, owned by the Stack.
func NamingKeySecret(stack *v1alpha1.Stack) string { return stack.Name + "-kargo-names" }

// NamingKey reads a Stack's naming key and the Secret holding it; both are
// nil when the Secret does not exist.
func NamingKey(ctx context.Context, c client.Reader, stack *v1alpha1.Stack) ([]byte, *corev1.Secret, error) {
	secret := &corev1.Secret{}
	name := NamingKeySecret(stack)
	if err := c.Get(ctx, types.NamespacedName{Namespace: stack.Namespace, Name: name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("naming key Secret %s: %w", name, err)
	}
	key := secret.Data[NamingKeyField]
	if len(key) < 32 {
		return nil, secret, fmt.Errorf("naming key Secret %s: key %q holds %d bytes, not at least 32: delete the Secret to have a new key made (every config and secret version is then renamed)", name, NamingKeyField, len(key))
	}
	return key, secret, nil
}

// Render renders the catalog entries the Stack picks with its patches,
// images and replicas and the Environment's variables (read through get)
// and defaults. A Stack without entries renders nothing.
func Render(stack *v1alpha1.Stack, env v1alpha1.EnvironmentObject, get overlay.DataGetter) (*overlay.Output, error) {
	if len(stack.Spec.Services) == 0 {
		return &overlay.Output{}, nil
	}
	vars, err := overlay.EnvironmentVariables(env.EnvironmentSpec(), get)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", env.EnvironmentReference(), err)
	}
	return overlay.Render(overlay.Input{Stack: stack, Variables: vars})
}

// Services are the Services a Stack deploys: the Service objects naming it
// that it did not render (hand-written, and not being deleted), with the
// Stack's spec.images applied, then the ones it rendered (applied by the
// render).
func Services(stack *v1alpha1.Stack, objects, rendered []v1alpha1.Service) []v1alpha1.Service {
	services := slices.DeleteFunc(slices.Clone(objects), func(svc v1alpha1.Service) bool {
		return !svc.DeletionTimestamp.IsZero() || metav1.IsControlledBy(&svc, stack)
	})
	for i := range services {
		services[i].Spec.Image = overlay.OverrideImage(services[i].Spec.Image, stack.Spec.Images)
	}
	return append(services, rendered...)
}

// KeyReader reads one key of a ConfigMap (secret false) or Secret (secret
// true) of the Stack's namespace.
type KeyReader func(sel v1alpha1.KeySelector, secret bool) ([]byte, error)

// File is a config or secret a Stack deploys, by the name Services use.
type File struct {
	Kind string // swarm.KindConfig or swarm.KindSecret
	Name string
	Data []byte
}

// Files lists the configs and secrets of a Stack in the order they are
// created: spec.configs, the config files of its catalog entries (sorted;
// one of spec.configs with the same name replaces the entry's), then
// spec.secrets.
func Files(stack *v1alpha1.Stack, rendered map[string][]byte, read KeyReader) ([]File, error) {
	var files []File
	for _, c := range stack.Spec.Configs {
		data, err := read(c.ConfigMapKeyRef, false)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", c.Name, err)
		}
		files = append(files, File{Kind: swarm.KindConfig, Name: c.Name, Data: data})
	}
	for _, name := range slices.Sorted(maps.Keys(rendered)) {
		if slices.ContainsFunc(stack.Spec.Configs, func(c v1alpha1.StackConfig) bool { return c.Name == name }) {
			continue
		}
		files = append(files, File{Kind: swarm.KindConfig, Name: name, Data: rendered[name]})
	}
	for _, sec := range stack.Spec.Secrets {
		data, err := read(sec.SecretKeyRef, true)
		if err != nil {
			return nil, fmt.Errorf("secret %s: %w", sec.Name, err)
		}
		files = append(files, File{Kind: swarm.KindSecret, Name: sec.Name, Data: data})
	}
	return files, nil
}

// Env reads the values of a Service's env entries that use valueFrom, by
// env name.
func Env(svc *v1alpha1.Service, read KeyReader) (map[string]string, error) {
	out := map[string]string{}
	for i, e := range svc.Spec.Env {
		if e.ValueFrom == nil {
			continue
		}
		var (
			data []byte
			err  error
		)
		if ref := e.ValueFrom.ConfigMapKeyRef; ref != nil {
			data, err = read(*ref, false)
		} else {
			data, err = read(*e.ValueFrom.SecretKeyRef, true)
		}
		if err != nil {
			return nil, fmt.Errorf("service %s spec.env[%d] (%s): %w", svc.Name, i, e.Name, err)
		}
		out[e.Name] = string(data)
	}
	return out, nil
}

// SecretEnv names the env entries of a Service whose value comes from a
// Secret: their values in a Swarm spec are secret.
func SecretEnv(svc *v1alpha1.Service) []string {
	var names []string
	for _, e := range svc.Spec.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			names = append(names, e.Name)
		}
	}
	return names
}

// ServiceSpec is the Swarm spec of a Service: the Environment's defaults
// as its lowest layer, converted with the Stack's objects (objs.Env holds
// the valueFrom values, see Env).
func ServiceSpec(svc *v1alpha1.Service, defaults *v1alpha1.ServiceDefaults, objs swarm.StackObjects) (dockerswarm.ServiceSpec, error) {
	withDefaults := svc.DeepCopy()
	overlay.ApplyDefaults(&withDefaults.Spec, defaults)
	return swarm.ServiceSpec(withDefaults, objs)
}

// SourceData reads the data of a ConfigMap (BinaryData included) or a
// Secret of a namespace: what Stack configs and secrets, env valueFrom and
// Environment variables are made of.
func SourceData(ctx context.Context, c client.Reader, namespace, name string, secret bool) (map[string][]byte, error) {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	if secret {
		var obj corev1.Secret
		if err := c.Get(ctx, key, &obj); err != nil {
			return nil, fmt.Errorf("Secret %s: %w", name, err)
		}
		return obj.Data, nil
	}
	var obj corev1.ConfigMap
	if err := c.Get(ctx, key, &obj); err != nil {
		return nil, fmt.Errorf("ConfigMap %s: %w", name, err)
	}
	data := make(map[string][]byte, len(obj.Data)+len(obj.BinaryData))
	for k, v := range obj.BinaryData {
		data[k] = v
	}
	for k, v := range obj.Data {
		data[k] = []byte(v)
	}
	return data, nil
}

// Keys reads keys of ConfigMaps and Secrets of a namespace (SourceData).
func Keys(ctx context.Context, c client.Reader, namespace string) KeyReader {
	return func(sel v1alpha1.KeySelector, secret bool) ([]byte, error) {
		data, err := SourceData(ctx, c, namespace, sel.Name, secret)
		if err != nil {
			return nil, err
		}
		if v, ok := data[sel.Key]; ok {
			return v, nil
		}
		kind := "ConfigMap"
		if secret {
			kind = "Secret"
		}
		return nil, fmt.Errorf("%s %s has no key %q", kind, sel.Name, sel.Key)
	}
}

// Data reads ConfigMaps and Secrets of a namespace for the Environment's
// variables (SourceData); a missing one is overlay.ErrNotFound.
func Data(ctx context.Context, c client.Reader, namespace string) overlay.DataGetter {
	return func(name string, secret bool) (map[string]string, error) {
		data, err := SourceData(ctx, c, namespace, name, secret)
		if apierrors.IsNotFound(err) {
			return nil, overlay.ErrNotFound
		}
		if err != nil {
			return nil, err
		}
		values := make(map[string]string, len(data))
		for k, v := range data {
			values[k] = string(v)
		}
		return values, nil
	}
}
