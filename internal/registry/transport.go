package registry

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// registryTransport is how a subscription reaches its registry. insecure: plain
// HTTP, or TLS without verification. Otherwise TLS, but for a loopback
// registry (127.0.0.1:5000, localhost:5000), which Docker too reads over
// HTTP unasked.
func registryTransport(insecure bool) http.RoundTripper {
	if insecure {
		t := remote.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		return t
	}
	return loopbackHTTPOnly{remote.DefaultTransport}
}

// loopbackHTTPOnly refuses plain HTTP to any host but a loopback one.
// go-containerregistry falls back to HTTP on its own for private
// addresses (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, *.local), where
// credentials would then travel in clear: Kargo does so only where a
// subscription says insecure.
type loopbackHTTPOnly struct{ next http.RoundTripper }

func (t loopbackHTTPOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !isLoopback(req.URL.Hostname()) {
		return nil, fmt.Errorf("plain HTTP to %s refused: set insecure: true to allow it", req.URL.Host)
	}
	return t.next.RoundTrip(req)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
