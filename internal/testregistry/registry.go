// Package testregistry runs a real OCI registry (go-containerregistry's
// pkg/registry, in memory) on 127.0.0.1 and pushes small images into it,
// built from the machine's static busybox. The tests of promotion and
// `make quickstart` (hack/registry) use it: images are then really
// discovered by tag and pulled by digest by the local dockerd, which pulls
// from a loopback registry over plain HTTP without being told to.
//
// It does not import package testing: a program serves it too.
package testregistry

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Registry is a running in-memory registry, or a handle on one another
// process runs (Connect).
type Registry struct {
	host   string
	server *http.Server // nil when connected
	auth   authn.Authenticator
}

// Option changes how a registry is started.
type Option func(*Registry)

// WithBasicAuth makes the registry answer only requests with these basic
// credentials (pkg/registry has no authentication of its own: the handler
// is wrapped with a check). Push uses them.
func WithBasicAuth(username, password string) Option {
	return func(r *Registry) {
		r.auth = &authn.Basic{Username: username, Password: password}
	}
}

// Start serves a registry on addr, a host:port on 127.0.0.1 ("127.0.0.1:0"
// picks a free port), until Close.
func Start(addr string, opts ...Option) (*Registry, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("registry address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		// Docker pulls over plain HTTP only from loopback registries
		// unless configured otherwise.
		return nil, fmt.Errorf("registry address %q: the host must be a loopback IP such as 127.0.0.1", addr)
	}
	r := &Registry{}
	for _, o := range opts {
		o(r)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for the registry: %w", err)
	}
	var handler http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if r.auth != nil {
		handler = basicAuth(r.auth, handler)
	}
	r.host = l.Addr().String()
	r.server = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.server.Serve(l) }()
	return r, nil
}

// T is what ForTest needs of a *testing.T (the package does not import
// package testing: a program uses it too).
type T interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// ForTest starts a registry on a free port of 127.0.0.1 for one test,
// closed when the test ends.
func ForTest(t T, opts ...Option) *Registry {
	t.Helper()
	r, err := Start("127.0.0.1:0", opts...)
	if err != nil {
		t.Fatalf("start a registry: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// basicAuth answers 401 with a Basic challenge, as a registry does, to a
// request without the credentials of auth.
func basicAuth(auth authn.Authenticator, next http.Handler) http.Handler {
	cfg, _ := auth.Authorization()
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		user, pass, ok := req.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(cfg.Username)) != 1 ||
			subtle.ConstantTimeCompare([]byte(pass), []byte(cfg.Password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="testregistry"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		next.ServeHTTP(w, req)
	})
}

// Host is the registry's host:port, e.g. 127.0.0.1:41234: image references
// are Host()+"/app:1.0.0".
func (r *Registry) Host() string { return r.host }

// Repo is the full name of a repository of the registry (Host()/repo),
// what a Warehouse subscription's repoURL says.
func (r *Registry) Repo(repo string) string { return r.Host() + "/" + repo }

// Connect is a handle on a registry already serving on host (host:port),
// to push images into it.
func Connect(host string, opts ...Option) *Registry {
	r := &Registry{host: host}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Close stops serving; the images are gone. It does nothing on a registry
// of Connect.
func (r *Registry) Close() error {
	if r.server == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return r.server.Shutdown(ctx)
}

// Push builds an image (see ImageOptions) and pushes it as ref, a
// repository:tag of this registry ("app:1.0.0"; Host()/app:1.0.0 works
// too). It returns the digest of the manifest pushed. Each push has content
// of its own, so two pushes never share a digest.
func (r *Registry) Push(ctx context.Context, ref string, opts ImageOptions) (string, error) {
	if !strings.HasPrefix(ref, r.Host()+"/") {
		ref = r.Repo(ref)
	}
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return "", fmt.Errorf("image reference %q (want repository:tag): %w", ref, err)
	}
	img, err := buildImage(tag.String(), opts)
	if err != nil {
		return "", err
	}
	auth := r.auth
	if auth == nil {
		auth = authn.Anonymous
	}
	if err := remote.Write(tag, img, remote.WithContext(ctx), remote.WithAuth(auth)); err != nil {
		return "", fmt.Errorf("push %s: %w", tag, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("digest of %s: %w", tag, err)
	}
	return digest.String(), nil
}

// ErrNoBusybox is returned by Push when the machine has no static busybox.
var ErrNoBusybox = errors.New("/bin/busybox not found: apt-get install busybox-static (a static busybox; the image has no libc)")
