package swarm_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	dockerswarm "github.com/docker/docker/api/types/swarm"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/swarm"
)

// marker stands for whatever a non-Docker endpoint serves (a login page,
// an internal document): it must never reach an error.
const marker = "SECRET-PAGE-CONTENT-7f3a"

// TestNotDockerEndpoint: Kargo's client against real HTTP servers that are
// not Docker Engines (httptest: a web server, a proxy in front of an
// engine). Each failure names the status and Server header, never the body.
func TestNotDockerEndpoint(t *testing.T) {
	htmlPage := fmt.Sprintf("<html><body><h1>Welcome</h1><p>%s</p></body></html>", marker)
	// pingOK answers the ping as an engine does, so that the next request
	// (GET /info) is the one that fails.
	pingOK := func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/_ping") {
			w.Header().Set("Api-Version", "1.47")
			w.WriteHeader(http.StatusOK)
			return true
		}
		return false
	}
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{{
		name: "web server, every path a 404 page",
		handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Server", "nginx")
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusNotFound)
			_, _ = fmt.Fprint(w, htmlPage)
		},
		want: "endpoint is not a Docker Engine API: HTTP 404 Not Found (Server: nginx)",
	}, {
		name: "web server, every path a 200 page",
		handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Server", "Apache/2.4")
			_, _ = fmt.Fprint(w, htmlPage)
		},
		want: "endpoint is not a Docker Engine API: HTTP 200 OK (Server: Apache/2.4)",
	}, {
		name: "proxy in front of an engine answers with its own error page",
		handler: func(w http.ResponseWriter, r *http.Request) {
			if pingOK(w, r) {
				return
			}
			w.Header().Set("Server", "haproxy")
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = fmt.Fprint(w, htmlPage)
		},
		want: "endpoint is not a Docker Engine API: HTTP 502 Bad Gateway (Server: haproxy)",
	}, {
		name: "JSON API with a message field",
		handler: func(w http.ResponseWriter, r *http.Request) {
			if pingOK(w, r) {
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = fmt.Fprintf(w, `{"message": %q}`, marker)
		},
		want: "endpoint is not a Docker Engine API: HTTP 500 Internal Server Error",
	}, {
		name: "JSON 404 that is not the engine's",
		handler: func(w http.ResponseWriter, r *http.Request) {
			if pingOK(w, r) {
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = fmt.Fprintf(w, `{"message": "page not found", "detail": %q}`, marker)
		},
		want: "endpoint is not a Docker Engine API: HTTP 404 Not Found",
	}, {
		name: "Server header is cut and cleaned",
		handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Server", strings.Repeat("x", 100)+marker)
			w.WriteHeader(http.StatusForbidden)
		},
		want: "HTTP 403 Forbidden (Server: " + strings.Repeat("x", 61) + "...)",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			server := httptest.NewServer(tc.handler)
			t.Cleanup(server.Close)
			err := ping(t, server.URL)
			var epErr *swarm.EndpointError
			var notDocker *swarm.NotDockerError
			switch {
			case err == nil:
				t.Fatal("ping succeeded")
			case strings.Contains(err.Error(), marker):
				t.Fatalf("the error repeats the endpoint's body: %v", err)
			case !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %q does not say %q", err, tc.want)
			case !errors.As(err, &notDocker), !errors.As(err, &epErr) || epErr.Reason != kargov1.NotSwarmManagerReason:
				t.Fatalf("want a NotDockerError with reason %s, got %#v", kargov1.NotSwarmManagerReason, err)
			}
			t.Logf("%v", err)
		})
	}
}

// TestEngineNotFoundIsDocker: an engine's answer to a route it does not
// know (an older engine) has no Api-Version header; it stays the engine's
// error, not "not a Docker Engine".
func TestEngineNotFoundIsDocker(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/_ping") {
			w.Header().Set("Api-Version", "1.47")
			return
		}
		// What the engine's not-found handler writes.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = fmt.Fprintln(w, `{"message":"page not found"}`)
	}))
	t.Cleanup(server.Close)
	err := ping(t, server.URL)
	var notDocker *swarm.NotDockerError
	if err == nil || errors.As(err, &notDocker) || !strings.Contains(err.Error(), "page not found") {
		t.Fatalf("want the engine's own not-found error, got %v", err)
	}
}

// TestPlainHTTPToTLS: plain HTTP (insecure: true) to a TLS port is a TLS
// error that says so: Go's TLS server answers it without an Api-Version
// header, as dockerd --tlsverify does.
func TestPlainHTTPToTLS(t *testing.T) {
	server := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(server.Close)
	err := ping(t, strings.Replace(server.URL, "https://", "http://", 1))
	var epErr *swarm.EndpointError
	if !errors.Is(err, swarm.ErrPlainHTTPToTLS) || !errors.As(err, &epErr) || epErr.Reason != kargov1.TLSErrorReason {
		t.Fatalf("want ErrPlainHTTPToTLS with reason %s, got %v", kargov1.TLSErrorReason, err)
	}
	t.Logf("%v", err)
}

// TestRedirectNotFollowed: an endpoint that claims to be an engine and
// redirects must not lead the client to another host.
func TestRedirectNotFollowed(t *testing.T) {
	var reached atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached.Add(1) }))
	t.Cleanup(elsewhere.Close)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.47")
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(server.Close)
	err := ping(t, server.URL)
	if err == nil || !strings.Contains(err.Error(), "redirected to") {
		t.Fatalf("want a refused redirect, got %v", err)
	}
	if n := reached.Load(); n != 0 {
		t.Fatalf("the redirect was followed: %d request(s) to the other host", n)
	}
	t.Logf("%v", err)
}

// ping connects to an http:// test server as to tcp://host:port.
func ping(t *testing.T, url string) error {
	t.Helper()
	c, err := swarm.Connect(swarm.Endpoint{Host: "tcp://" + strings.TrimPrefix(url, "http://")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_, err = c.Ping(context.Background())
	return err
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int
		want  string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"eleven char", 10, "eleven ..."},
		// "é" is two bytes: kept whole when it fits, else cut before it,
		// never in its middle.
		{"abcdeé-tail", 10, "abcdeé..."},
		{"abcdefé-tail", 10, "abcdef..."},
	} {
		if got := swarm.Truncate(tc.in, tc.limit); got != tc.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
		}
	}
}

// TestErrorTextCutsEngineErrors: a real engine error that quotes a long
// input is cut to MaxErrorText bytes, ending with an ellipsis.
func TestErrorTextCutsEngineErrors(t *testing.T) {
	name := "kargo-no-such-service-" + strings.Repeat("é", 1000)
	_, _, err := dockerAPI(t).ServiceInspectWithRaw(context.Background(), name, dockerswarm.ServiceInspectOptions{})
	if err == nil || len(err.Error()) <= swarm.MaxErrorText {
		t.Fatalf("want an engine error longer than %d bytes, got %v", swarm.MaxErrorText, err)
	}
	text := swarm.ErrorText(err)
	if len(text) > swarm.MaxErrorText || !strings.HasSuffix(text, "...") || !utf8.ValidString(text) ||
		!strings.HasPrefix(text, "Error response from daemon: service kargo-no-such-service-") {
		t.Fatalf("ErrorText = %q (%d bytes)", text, len(text))
	}
	// Short errors are left whole.
	if short := errors.New("engine said no"); swarm.ErrorText(short) != "engine said no" {
		t.Fatalf("ErrorText of a short error = %q", swarm.ErrorText(short))
	}
}
