package main

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/kargo-io/kargo/internal/testenv"
)

// engineProxy forwards Engine API requests to the Swarm's socket from a
// socket of its own and counts them by operation. Both tools reach the
// Swarm through it (Kargo's Environment and the docker CLI), so their
// requests are counted the same way; the bench's own reads go direct.
type engineProxy struct {
	socket string
	server *http.Server
	mu     sync.Mutex
	counts map[string]int
}

func startEngineProxy(target string) (*engineProxy, error) {
	dir, err := os.MkdirTemp("", "kargo-bench-")
	if err != nil {
		return nil, err
	}
	p := &engineProxy{socket: filepath.Join(dir, "engine.sock"), counts: map[string]int{}}
	l, err := net.Listen("unix", p.socket)
	if err != nil {
		return nil, fmt.Errorf("engine proxy: %w", err)
	}
	rp := testenv.UnixSocketProxy(strings.TrimPrefix(target, "unix://"))
	p.server = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.counts[operation(r.Method, r.URL.Path)]++
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = p.server.Serve(l) }()
	return p, nil
}

// host is the proxy as a DOCKER_HOST.
func (p *engineProxy) host() string { return "unix://" + p.socket }

func (p *engineProxy) close() {
	_ = p.server.Close()
	_ = os.RemoveAll(filepath.Dir(p.socket))
}

// snapshot returns the counts so far.
func (p *engineProxy) snapshot() requests {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.counts)
}

// operation names a request without API version and IDs: "GET
// /services" is a list, "GET /services/{id}" an inspect, "POST
// /services/{id}/update" an update.
func operation(method, path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) > 0 && strings.HasPrefix(segs[0], "v1.") {
		segs = segs[1:]
	}
	if len(segs) == 0 {
		return method + " /"
	}
	op := method + " /" + segs[0]
	switch {
	case len(segs) == 2 && (segs[1] == "create" || segs[1] == "prune" || segs[1] == "json"):
		op += "/" + segs[1]
	case len(segs) == 2:
		op += "/{id}"
	case len(segs) >= 3:
		op += "/{id}/" + segs[len(segs)-1]
	}
	return op
}

// requests are Engine API requests by operation.
type requests map[string]int

func (r requests) minus(before requests) requests {
	out := requests{}
	for k, v := range r {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// writes counts the requests that can change the Swarm.
func (r requests) writes() int {
	n := 0
	for op, c := range r {
		if !strings.HasPrefix(op, "GET ") && !strings.HasPrefix(op, "HEAD ") {
			n += c
		}
	}
	return n
}

// total counts every request but the events stream and pings.
func (r requests) total() int {
	n := 0
	for op, c := range r {
		if op != "GET /events" && op != "GET /_ping" && op != "HEAD /_ping" {
			n += c
		}
	}
	return n
}

// lists is the number of list requests of each kind, as "services 1,
// tasks 1, ...".
func (r requests) lists() string {
	var parts []string
	for _, kind := range []string{"services", "tasks", "networks", "configs", "secrets", "containers/json", "nodes"} {
		parts = append(parts, fmt.Sprintf("%s %d", strings.TrimSuffix(kind, "/json"), r["GET /"+kind]))
	}
	return strings.Join(parts, ", ")
}

// String lists the operations, most frequent first.
func (r requests) String() string {
	type kv struct {
		op string
		n  int
	}
	var all []kv
	for op, n := range r {
		all = append(all, kv{op, n})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].n != all[j].n {
			return all[i].n > all[j].n
		}
		return all[i].op < all[j].op
	})
	var parts []string
	for _, e := range all {
		parts = append(parts, fmt.Sprintf("%s %d", e.op, e.n))
	}
	return strings.Join(parts, ", ")
}
