package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
)

// KeychainFromSecret reads the registry credentials of a Secret of type
// kubernetes.io/dockerconfigjson (what `kubectl create secret
// docker-registry` makes): each entry of its auths applies to the registry
// host it names. Errors name the Secret and the key, never a value.
func KeychainFromSecret(secret *corev1.Secret) (authn.Keychain, error) {
	id := secret.Namespace + "/" + secret.Name
	if secret.Type != corev1.SecretTypeDockerConfigJson {
		return nil, fmt.Errorf("secret %s has type %q, want %s", id, secret.Type, corev1.SecretTypeDockerConfigJson)
	}
	data, ok := secret.Data[corev1.DockerConfigJsonKey]
	if !ok {
		return nil, fmt.Errorf("secret %s has no key %s", id, corev1.DockerConfigJsonKey)
	}
	var cfg struct {
		Auths map[string]authn.AuthConfig `json:"auths"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		// The error of encoding/json may quote the input: it is not kept.
		return nil, fmt.Errorf("key %s of secret %s is not a Docker config (want {\"auths\": {\"HOST\": {\"username\": ..., \"password\": ...}}}): %s",
			corev1.DockerConfigJsonKey, id, jsonProblem(err))
	}
	kc := keychain{}
	for host, auth := range cfg.Auths {
		kc[normalizeHost(host)] = auth
	}
	return kc, nil
}

// jsonProblem says what is wrong with a JSON document without quoting it.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("%s is a JSON %s", typ.Field, typ.Value)
	default:
		return "an auth field is not base64 of username:password"
	}
}

// keychain maps registry hosts to credentials.
type keychain map[string]authn.AuthConfig

// Resolve gives the credentials of the registry of target, anonymous
// when the Secret has none for it.
func (k keychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	if auth, ok := k[normalizeHost(target.RegistryStr())]; ok {
		return authn.FromConfig(auth), nil
	}
	return authn.Anonymous, nil
}

// normalizeHost reduces a key of auths (https://index.docker.io/v1/,
// registry.example.com:5000, http://127.0.0.1:5000) to its host[:port],
// and Docker Hub's names to the one go-containerregistry uses.
func normalizeHost(key string) string {
	host := key
	if _, rest, ok := strings.Cut(host, "://"); ok {
		host = rest
	}
	host, _, _ = strings.Cut(host, "/")
	switch host = strings.ToLower(host); host {
	case "docker.io", "registry-1.docker.io":
		return "index.docker.io"
	}
	return host
}
