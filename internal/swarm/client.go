// Package swarm holds every call Kargo makes to the Docker Engine API:
// connecting, converting Services to Swarm specs, applying them with
// ownership labels, and observing tasks. Nothing else in Kargo imports the
// Docker client, so a move to another client library touches this package only.
package swarm

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"
	dockerclient "github.com/docker/docker/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// TLSMaterial is the PEM content of a client certificate and its CA.
type TLSMaterial struct {
	CA   []byte
	Cert []byte
	Key  []byte
}

// Endpoint says how to reach a Docker Engine API.
type Endpoint struct {
	// Host is unix:///path or tcp://host:port.
	Host string
	// TLS, when set, authenticates both ends of a tcp:// connection.
	TLS *TLSMaterial
}

// Client is a Docker Engine API client for one Environment. It counts the
// requests that change the Swarm, so tests can assert that a no-op
// reconcile writes nothing.
type Client struct {
	api    dockerclient.APIClient
	writes *atomic.Int64
}

// EndpointError is a failure to use an endpoint, with the condition reason
// an Environment reports for it: kargov1.UnreachableReason, TLSErrorReason
// or NotSwarmManagerReason.
type EndpointError struct {
	Reason string
	Err    error
}

func (e *EndpointError) Error() string { return e.Err.Error() }
func (e *EndpointError) Unwrap() error { return e.Err }

// Connect builds a client for the endpoint. It does not contact the engine:
// Ping does, negotiating the API version.
func Connect(ep Endpoint, opts ...Option) (*Client, error) {
	o := options{connections: DefaultConnections, timeout: DefaultRequestTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	transport := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		// Requests made at once stay on open connections: no new
		// connection (and TLS handshake) per request under load.
		MaxIdleConnsPerHost: o.connections,
	}
	scheme := "http"
	if ep.TLS != nil {
		cfg, err := tlsConfig(ep)
		if err != nil {
			return nil, &EndpointError{Reason: kargov1.TLSErrorReason, Err: err}
		}
		transport.TLSClientConfig = cfg
		scheme = "https"
	}
	httpClient := &http.Client{Transport: transport, CheckRedirect: refuseRedirect}
	api, err := dockerclient.NewClientWithOpts(
		dockerclient.WithHTTPClient(httpClient),
		dockerclient.WithHost(ep.Host),
		dockerclient.WithScheme(scheme),
		dockerclient.WithAPIVersionNegotiation(),
	)
	if err != nil {
		return nil, fmt.Errorf("docker client for %s: %w", ep.Host, err)
	}
	c := &Client{api: api, writes: &atomic.Int64{}}
	// The Docker client wraps the transport it was given; wrapping once more
	// sees every request, whichever method of the client made it.
	httpClient.Transport = &instrumentedTransport{next: httpClient.Transport, writes: c.writes, observe: o.observe, timeout: o.timeout}
	return c, nil
}

// refuseRedirect stops the client at a redirect: an engine never sends
// one, and following it would reach a host the endpoint policy did not
// allow.
func refuseRedirect(req *http.Request, _ []*http.Request) error {
	return fmt.Errorf("the endpoint redirected to %s: not followed", printable(req.URL.Host))
}

// Option configures a Client.
type Option func(*options)

type options struct {
	observe     RequestObserver
	connections int
	timeout     time.Duration
}

// DefaultRequestTimeout is how long a Client waits for the engine's answer
// to a request by default.
const DefaultRequestTimeout = 30 * time.Second

// WithRequestTimeout bounds every request but the event stream (which
// lasts as long as its subscription; TCP keepalives watch it): a request
// without an answer after d fails. For d after that, the other requests
// fail at once, but a ping: a stalled endpoint holds no more reconciles
// than those already waiting on it. Any answer ends that.
func WithRequestTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// DefaultConnections is how many connections to the engine a Client keeps
// open by default.
const DefaultConnections = 4

// WithConnections sizes the pool of open connections for n requests at
// once (the reconciles and service applies made concurrently, the events
// stream).
func WithConnections(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.connections = n
		}
	}
}

// RequestObserver is told of every Engine API request: its operation (e.g.
// "POST /services/create"), HTTP status code (0 when no answer) and duration.
type RequestObserver func(operation string, code int, duration time.Duration)

// WithRequestObserver reports each request to observe (metrics).
func WithRequestObserver(observe RequestObserver) Option {
	return func(o *options) { o.observe = observe }
}

func tlsConfig(ep Endpoint) (*tls.Config, error) {
	if !strings.HasPrefix(ep.Host, "tcp://") {
		return nil, fmt.Errorf("TLS needs a tcp:// endpoint, not %s", ep.Host)
	}
	cert, err := tls.X509KeyPair(ep.TLS.Cert, ep.TLS.Key)
	if err != nil {
		return nil, fmt.Errorf("client certificate (tls.crt, tls.key): %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ep.TLS.CA) {
		return nil, errors.New("ca.crt holds no PEM certificate")
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// Close releases idle connections.
func (c *Client) Close() error { return c.api.Close() }

// Writes is the number of requests so far that could change the Swarm
// (anything but GET and HEAD).
func (c *Client) Writes() int64 { return c.writes.Load() }

// Info is what Kargo reports of a Swarm in Environment status.
type Info struct {
	ClusterID     string
	NodeID        string
	Nodes         int
	Managers      int
	EngineVersion string
	APIVersion    string
}

// Ping negotiates the API version, checks that the engine is a manager of
// an active Swarm, and describes it. Failures are *EndpointError.
func (c *Client) Ping(ctx context.Context) (Info, error) {
	if _, err := c.api.Ping(ctx); err != nil {
		return Info{}, classify(err)
	}
	c.api.NegotiateAPIVersion(ctx)
	sys, err := c.api.Info(ctx)
	if err != nil {
		return Info{}, classify(err)
	}
	if err := checkManager(sys); err != nil {
		return Info{}, &EndpointError{Reason: kargov1.NotSwarmManagerReason, Err: err}
	}
	return Info{
		ClusterID:     sys.Swarm.Cluster.ID,
		NodeID:        sys.Swarm.NodeID,
		Nodes:         sys.Swarm.Nodes,
		Managers:      sys.Swarm.Managers,
		EngineVersion: sys.ServerVersion,
		APIVersion:    c.api.ClientVersion(),
	}, nil
}

func checkManager(sys system.Info) error {
	if sys.Swarm.LocalNodeState != swarm.LocalNodeStateActive {
		return fmt.Errorf("engine %s is not part of a swarm (state %q): run docker swarm init or join", sys.Name, sys.Swarm.LocalNodeState)
	}
	if !sys.Swarm.ControlAvailable {
		return fmt.Errorf("engine %s is a swarm worker: point the endpoint at a manager", sys.Name)
	}
	return nil
}

// classify tells TLS failures and endpoints that are not Docker Engines
// from an endpoint that does not answer.
func classify(err error) error {
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var recordErr tls.RecordHeaderError
	var notDocker *NotDockerError
	msg := err.Error()
	switch {
	case errors.As(err, &notDocker):
		return &EndpointError{Reason: kargov1.NotSwarmManagerReason, Err: err}
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &recordErr),
		errors.Is(err, ErrPlainHTTPToTLS), strings.Contains(msg, "tls:"), strings.Contains(msg, "x509:"):
		return &EndpointError{Reason: kargov1.TLSErrorReason, Err: err}
	default:
		return &EndpointError{Reason: kargov1.UnreachableReason, Err: err}
	}
}

// instrumentedTransport sees every request of a Client: it counts writes,
// reports each request to the observer, refuses answers that do not come
// from a Docker Engine (checkDocker), and bounds each request but the
// event stream by timeout (see WithRequestTimeout).
type instrumentedTransport struct {
	next    http.RoundTripper
	writes  *atomic.Int64
	observe RequestObserver
	timeout time.Duration
	// silentUntil (Unix nanoseconds) is when requests are sent again
	// after one got no answer within timeout.
	silentUntil atomic.Int64
}

func (t *instrumentedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	stream := strings.HasSuffix(req.URL.Path, "/events")
	if !stream && !strings.HasSuffix(req.URL.Path, "/_ping") && time.Now().UnixNano() < t.silentUntil.Load() {
		return nil, fmt.Errorf("not sent: an earlier request got no answer within %s", t.timeout)
	}
	cancel := context.CancelFunc(func() {})
	if !stream {
		var ctx context.Context
		ctx, cancel = context.WithTimeout(req.Context(), t.timeout)
		req = req.WithContext(ctx)
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		t.writes.Add(1)
	}
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	switch {
	case err == nil:
		t.silentUntil.Store(0)
		// The deadline covers the body too; reading it to the end or
		// closing it releases the timer.
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	case errors.Is(req.Context().Err(), context.DeadlineExceeded):
		cancel()
		t.silentUntil.Store(time.Now().Add(t.timeout).UnixNano())
		err = fmt.Errorf("no answer within %s: %w", t.timeout, err)
	default:
		cancel()
	}
	if t.observe != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.observe(operation(req), code, time.Since(start))
	}
	if err != nil {
		return nil, err
	}
	// Here, before the Docker client reads the body into its error. An
	// answer to HEAD has no body, and a failed HEAD /_ping is tried again
	// with GET, which is checked.
	if req.Method == http.MethodHead {
		return resp, nil
	}
	if err := checkDocker(resp); err != nil {
		_ = resp.Body.Close()
		return nil, err
	}
	return resp, nil
}

// cancelOnClose ends a request's deadline when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// operation names a request by method and resource, without API version or
// IDs, so metrics keep a small label set: "POST /services/update".
func operation(req *http.Request) string {
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	if len(parts) > 0 && strings.HasPrefix(parts[0], "v1.") {
		parts = parts[1:]
	}
	resource := ""
	if len(parts) > 0 {
		resource = parts[0]
	}
	// A list (GET /services) and an inspect (GET /services/{id}) differ;
	// IDs and names never become label values.
	switch {
	case len(parts) == 2 && isVerb(parts[1]):
		resource += "/" + parts[1]
	case len(parts) == 2:
		resource += "/{id}"
	case len(parts) > 2:
		resource += "/{id}/" + parts[len(parts)-1]
	}
	return req.Method + " /" + resource
}

// isVerb tells the last path element of an operation on a collection
// (POST /services/create, GET /containers/json) from an object's ID.
func isVerb(element string) bool {
	switch element {
	case "create", "update", "json", "prune":
		return true
	}
	return false
}
