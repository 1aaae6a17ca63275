package registry

import (
	"net/http"
	"strings"
	"testing"
)

// answer is a RoundTripper that answers every request 200, standing in
// for the network: what is tested is whether the request gets there.
type answer struct{}

func (answer) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Request: req}, nil
}

// TestLoopbackHTTPOnly: without insecure, plain HTTP reaches loopback
// registries only; go-containerregistry would try it on private addresses
// by itself.
func TestLoopbackHTTPOnly(t *testing.T) {
	rt := loopbackHTTPOnly{answer{}}
	for _, tc := range []struct {
		url     string
		allowed bool
	}{
		{"http://127.0.0.1:5000/v2/", true},
		{"http://localhost:5000/v2/", true},
		{"http://[::1]:5000/v2/", true},
		{"https://10.1.2.3:5000/v2/", true},
		{"http://10.1.2.3:5000/v2/", false},
		{"http://192.168.1.10/v2/", false},
		{"http://registry.local:5000/v2/", false},
		{"http://registry.example.com/v2/", false},
	} {
		req, err := http.NewRequest(http.MethodGet, tc.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = rt.RoundTrip(req)
		if allowed := err == nil; allowed != tc.allowed {
			t.Errorf("%s: allowed %t, want %t (%v)", tc.url, allowed, tc.allowed, err)
		}
		if err != nil && !strings.Contains(err.Error(), "set insecure: true") {
			t.Errorf("%s: the error does not say how to allow it: %v", tc.url, err)
		}
	}
	if _, ok := registryTransport(true).(*http.Transport); !ok {
		t.Error("insecure: want the plain transport, HTTP allowed")
	}
}
