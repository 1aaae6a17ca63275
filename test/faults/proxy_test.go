//go:build faults

package faults

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kargo-io/kargo/internal/testenv"
)

// engineProxy stands between Kargo and a dockerd's unix socket, forwarding
// every request, to inject what a real dockerd cannot be made to do on
// cue: cut the event stream (/events) while the rest of the API answers,
// or be unreachable altogether and come back on the same address. It is a
// fake part only in that; what answers is the real dockerd.
type engineProxy struct {
	// Host is unix://<path>, the Environment's endpoint.
	Host string
	t    *testing.T
	path string
	srv  *http.Server

	mu sync.Mutex
	ln net.Listener
	// conns are the client connections, events those carrying /events.
	conns, events map[net.Conn]bool
	eventsCut     bool
	// refused counts /events requests refused while cut.
	refused atomic.Int64
}

type connKey struct{}

// startProxy listens on a new socket in a temporary directory and forwards
// to the unix socket of upstream (unix://...); the cleanup stops it.
func startProxy(t *testing.T, upstream string) *engineProxy {
	t.Helper()
	// Short: unix socket paths are limited to 107 bytes.
	dir, err := os.MkdirTemp("/tmp", "kfp-")
	if err != nil {
		t.Fatal(err)
	}
	p := &engineProxy{t: t, path: filepath.Join(dir, "docker.sock"), conns: map[net.Conn]bool{}, events: map[net.Conn]bool{}}
	p.Host = "unix://" + p.path
	forward := testenv.UnixSocketProxy(strings.TrimPrefix(upstream, "unix://"))
	p.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/events") && !p.openEvents(r.Context().Value(connKey{}).(net.Conn)) {
				p.refused.Add(1)
				// Refused as a dead peer refuses: the connection closes
				// without an answer.
				if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
					_ = conn.Close()
				}
				return
			}
			forward.ServeHTTP(w, r)
		}),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) },
		ConnState: func(c net.Conn, state http.ConnState) {
			p.mu.Lock()
			defer p.mu.Unlock()
			switch state {
			case http.StateNew:
				p.conns[c] = true
			case http.StateClosed, http.StateHijacked:
				delete(p.conns, c)
				delete(p.events, c)
			}
		},
	}
	t.Cleanup(func() {
		_ = p.srv.Close()
		_ = os.RemoveAll(dir)
	})
	p.up()
	return p
}

// openEvents records conn as carrying the event stream, unless cut.
func (p *engineProxy) openEvents(conn net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.eventsCut {
		return false
	}
	p.events[conn] = true
	return true
}

// eventStreams is how many event streams are open.
func (p *engineProxy) eventStreams() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.events)
}

// cutEvents closes the open event streams and refuses new ones until
// restoreEvents; every other request still passes.
func (p *engineProxy) cutEvents() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.eventsCut = true
	for c := range p.events {
		_ = c.Close()
	}
}

func (p *engineProxy) restoreEvents() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.eventsCut = false
}

// down makes the endpoint unreachable: the socket is gone (a dial fails
// at once, as when dockerd is stopped) and every connection is closed.
func (p *engineProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.ln.Close() // removes the socket file
	for c := range p.conns {
		_ = c.Close()
	}
}

// up listens (again) on the same socket.
func (p *engineProxy) up() {
	p.t.Helper()
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		p.t.Fatalf("proxy: %v", err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() { _ = p.srv.Serve(ln) }()
}
