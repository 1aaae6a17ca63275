package compose

import (
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"unicode/utf8"

	"github.com/compose-spec/compose-go/v2/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kargo-io/kargo/api/v1alpha1"
)

var (
	objectName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
	dataKey    = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)
)

// scoped is the Swarm name docker gives a stack object.
func (c *converter) scoped(name string) string { return c.opts.Stack + "_" + name }

// usedNetworks are the networks some service attaches to (after
// compose-go's normalisation, which attaches a service without networks
// to `default`).
func (c *converter) usedNetworks() map[string]bool {
	used := map[string]bool{}
	for _, svc := range c.project.Services {
		for n := range svc.Networks {
			used[n] = true
		}
	}
	return used
}

// convertNetworks declares the networks the services use. docker names a
// network <stack>_<name> unless `name:` is set (then swarmName), and uses
// an external network by its name.
func (c *converter) convertNetworks() {
	used := c.usedNetworks()
	for _, name := range slices.Sorted(maps.Keys(c.project.Networks)) {
		where := "network " + name
		if !used[name] {
			c.is.warn("%s: not used by any service: docker stack deploy does not create it, left out", where)
			continue
		}
		if !objectName.MatchString(name) || len(name) > 63 {
			c.is.unsupported("%s: the name is not a valid Kargo network name (%s, at most 63)", where, objectName)
			continue
		}
		cfg := c.project.Networks[name]
		raw := rawMap(c.raw, "networks", name)
		explicit, _ := raw["name"].(string)
		n := v1alpha1.Network{Name: name}
		if cfg.External {
			n.External = true
			if explicit != "" && explicit != name {
				n.SwarmName = explicit
			}
		} else {
			if explicit != "" && explicit != c.scoped(name) {
				n.SwarmName = explicit
			}
			n.Driver = cfg.Driver
			n.Attachable = cfg.Attachable
			n.Internal = cfg.Internal
			if len(cfg.Labels) > 0 {
				n.Labels = map[string]string(cfg.Labels)
			}
			// encrypted: "" is Kargo's encrypted: true; another value
			// (encrypted: "true") is passed on as written, as docker does.
			opts := maps.Clone(map[string]string(cfg.DriverOpts))
			if v, enc := opts["encrypted"]; enc && v == "" {
				n.Encrypted = true
				delete(opts, "encrypted")
			}
			if len(opts) > 0 {
				n.DriverOpts = opts
			}
		}
		c.networkSet[name] = true
		c.stack.Spec.Networks = append(c.stack.Spec.Networks, n)
	}
}

// convertVolumes checks the top-level volumes: Kargo names every named
// volume <namespace>_<name>, as docker does without `name:`.
func (c *converter) convertVolumes() {
	for _, name := range slices.Sorted(maps.Keys(c.project.Volumes)) {
		where := "volume " + name
		cfg := c.project.Volumes[name]
		raw := rawMap(c.raw, "volumes", name)
		explicit, _ := raw["name"].(string)
		switch {
		case bool(cfg.External):
			c.is.unsupported("%s: key external: Kargo names every volume <namespace>_<name> and cannot mount an existing volume by its own name", where)
		case explicit != "" && explicit != c.scoped(name):
			c.is.unsupported("%s: key name: Kargo names every volume <namespace>_<name> (here %s), not %s", where, c.scoped(name), explicit)
		default:
			c.volumes[name] = true
		}
	}
}

// convertFileObjects turns file-based (or content / environment) configs
// and secrets into keys of one ConfigMap <stack>-configs and one Secret
// <stack>-secrets, declared in the Stack.
func (c *converter) convertFileObjects() error {
	for _, secret := range []bool{false, true} {
		section, what := "configs", "config"
		objs := map[string]types.FileObjectConfig{}
		if secret {
			section, what = "secrets", "secret"
			for k, v := range c.project.Secrets {
				objs[k] = types.FileObjectConfig(v)
			}
		} else {
			for k, v := range c.project.Configs {
				objs[k] = types.FileObjectConfig(v)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(objs)) {
			where := what + " " + name
			cfg := objs[name]
			raw := rawMap(c.raw, section, name)
			explicit, _ := raw["name"].(string)
			if cfg.External {
				c.is.unsupported("%s: key external: Kargo makes %ss from ConfigMap/Secret keys and cannot use one that exists on the Swarm (declare it from a file instead)", where, what)
				continue
			}
			if explicit != "" && explicit != c.scoped(name) {
				c.is.unsupported("%s: key name: Kargo names the Swarm %s itself (content-named versions of %s)", where, what, c.scoped(name))
				continue
			}
			if !objectName.MatchString(name) || len(name) > 63 || !dataKey.MatchString(name) {
				c.is.unsupported("%s: the name is not a valid Kargo %s name (%s, at most 63)", where, what, objectName)
				continue
			}
			var data []byte
			switch {
			case cfg.File != "":
				b, err := os.ReadFile(cfg.File)
				if err != nil {
					return fmt.Errorf("%s: file: %w", where, err)
				}
				data = b
			case cfg.Environment != "":
				v, ok := c.project.Environment[cfg.Environment]
				if !ok {
					return fmt.Errorf("%s: environment: variable %s is not set (give it in an --env-file)", where, cfg.Environment)
				}
				data = []byte(v)
			default:
				data = []byte(cfg.Content)
			}
			if secret {
				if c.secret == nil {
					c.secret = &corev1.Secret{
						TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
						ObjectMeta: c.meta(c.opts.Stack + "-secrets"),
						Type:       corev1.SecretTypeOpaque,
						Data:       map[string][]byte{},
					}
				}
				c.secret.Data[name] = data
				c.secrets[name] = true
				c.stack.Spec.Secrets = append(c.stack.Spec.Secrets, v1alpha1.StackSecret{
					Name: name, SecretKeyRef: v1alpha1.KeySelector{Name: c.secret.Name, Key: name},
				})
				continue
			}
			if c.configMap == nil {
				c.configMap = &corev1.ConfigMap{
					TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
					ObjectMeta: c.meta(c.opts.Stack + "-configs"),
				}
			}
			if utf8.Valid(data) {
				if c.configMap.Data == nil {
					c.configMap.Data = map[string]string{}
				}
				c.configMap.Data[name] = string(data)
			} else {
				if c.configMap.BinaryData == nil {
					c.configMap.BinaryData = map[string][]byte{}
				}
				c.configMap.BinaryData[name] = data
			}
			c.configs[name] = true
			c.stack.Spec.Configs = append(c.stack.Spec.Configs, v1alpha1.StackConfig{
				Name: name, ConfigMapKeyRef: v1alpha1.KeySelector{Name: c.configMap.Name, Key: name},
			})
		}
	}
	return nil
}
