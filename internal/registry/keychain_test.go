package registry

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func pullSecret(typ corev1.SecretType, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "pull"}, Type: typ, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func TestKeychainFromSecret(t *testing.T) {
	const config = `{"auths": {
		"https://index.docker.io/v1/": {"username": "hub", "password": "hubpw"},
		"http://127.0.0.1:5000": {"auth": "bG9jYWw6bG9jYWxwdw=="},
		"registry.example.com": {"username": "ex", "password": "expw"}}}`
	kc, err := KeychainFromSecret(pullSecret(corev1.SecretTypeDockerConfigJson, map[string]string{".dockerconfigjson": config}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ repo, user, pass string }{
		{"library/busybox", "hub", "hubpw"},
		{"127.0.0.1:5000/app", "local", "localpw"},
		{"registry.example.com/team/app", "ex", "expw"},
		{"other.example.com/app", "", ""},
	} {
		repo, err := name.NewRepository(tc.repo)
		if err != nil {
			t.Fatal(err)
		}
		auth, err := kc.Resolve(repo)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := auth.Authorization()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Username != tc.user || cfg.Password != tc.pass {
			t.Errorf("%s: got user %q, want %q (password as expected: %t)", tc.repo, cfg.Username, tc.user, cfg.Password == tc.pass)
		}
		if tc.user == "" && auth != authn.Anonymous {
			t.Errorf("%s: want anonymous", tc.repo)
		}
	}
}

// TestKeychainFromSecretErrors: errors name the Secret and the key, and
// never quote what the Secret holds.
func TestKeychainFromSecretErrors(t *testing.T) {
	const secret = "s3cr3t-value"
	for _, tc := range []struct {
		name   string
		secret *corev1.Secret
		want   string
	}{
		{"wrong type", pullSecret(corev1.SecretTypeOpaque, map[string]string{".dockerconfigjson": secret}),
			`secret team/pull has type "Opaque", want kubernetes.io/dockerconfigjson`},
		{"no key", pullSecret(corev1.SecretTypeDockerConfigJson, map[string]string{"config.json": secret}),
			"secret team/pull has no key .dockerconfigjson"},
		{"not JSON", pullSecret(corev1.SecretTypeDockerConfigJson, map[string]string{".dockerconfigjson": secret}),
			"key .dockerconfigjson of secret team/pull is not a Docker config"},
		{"wrong JSON type", pullSecret(corev1.SecretTypeDockerConfigJson, map[string]string{".dockerconfigjson": `{"auths": {"h": {"username": 1}}}`}),
			"key .dockerconfigjson of secret team/pull is not a Docker config"},
		{"bad auth", pullSecret(corev1.SecretTypeDockerConfigJson, map[string]string{".dockerconfigjson": `{"auths": {"h": {"auth": "` + secret + `"}}}`}),
			"key .dockerconfigjson of secret team/pull is not a Docker config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := KeychainFromSecret(tc.secret)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "s3c") {
				t.Fatalf("the error quotes the Secret: %v", err)
			}
		})
	}
}
