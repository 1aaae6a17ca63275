package swarm_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kargo-io/kargo/internal/swarm"
)

// TestRequestTimeout: a request the endpoint does not answer fails after
// the request timeout; for that long the next ones fail at once, but a
// ping; any answer ends that. The endpoint is an HTTP server that hangs
// until told to answer (no engine needed: only the client's timing is
// under test).
func TestRequestTimeout(t *testing.T) {
	var answering atomic.Bool
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !answering.Load() {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Api-Version", "1.41")
		if strings.HasSuffix(r.URL.Path, "/_ping") {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/info") {
			_, _ = w.Write([]byte(`{"Swarm": {"LocalNodeState": "active", "ControlAvailable": true, "Cluster": {"ID": "c"}}}`))
			return
		}
		_, _ = w.Write([]byte("[]"))
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	const timeout = 300 * time.Millisecond
	cli, err := swarm.Connect(swarm.Endpoint{Host: "tcp://" + strings.TrimPrefix(srv.URL, "http://")}, swarm.WithRequestTimeout(timeout))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	ctx := context.Background()

	for _, step := range []struct {
		name      string
		call      func() error
		answering bool
		// want is part of the error (empty: none); took bounds the call.
		want          string
		atLeast, most time.Duration
	}{
		// The first ping negotiates the API version, as an Environment's does.
		{name: "answers", answering: true, call: func() error { _, err := cli.Ping(ctx); return err }, most: timeout},
		{name: "no answer", call: func() error { _, err := cli.ListOwned(ctx, swarm.Claim{Namespace: "app", Owner: "ns/app"}); return err },
			want: "no answer within 300ms", atLeast: timeout, most: 3 * timeout},
		{name: "silent: not sent", call: func() error { _, err := cli.ListOwned(ctx, swarm.Claim{Namespace: "app", Owner: "ns/app"}); return err },
			want: "not sent: an earlier request got no answer within 300ms", most: timeout / 3},
		{name: "a ping is sent", call: func() error { _, err := cli.Ping(ctx); return err },
			want: "no answer within 300ms", atLeast: timeout, most: 3 * timeout},
		{name: "answers again", answering: true, call: func() error { _, err := cli.ListOwned(ctx, swarm.Claim{Namespace: "app", Owner: "ns/app"}); return err },
			most: timeout},
	} {
		answering.Store(step.answering)
		if step.answering && step.name != "answers" {
			// Past the silence the last timeout started.
			time.Sleep(timeout)
		}
		start := time.Now()
		err := step.call()
		took := time.Since(start)
		switch {
		case step.want == "" && err != nil:
			t.Errorf("%s: %v", step.name, err)
		case step.want != "" && (err == nil || !strings.Contains(err.Error(), step.want)):
			t.Errorf("%s: error %v; want one containing %q", step.name, err, step.want)
		}
		if took < step.atLeast || took > step.most {
			t.Errorf("%s: took %s; want between %s and %s", step.name, took, step.atLeast, step.most)
		}
	}
}
