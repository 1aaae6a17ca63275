package testregistry_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/kargo-io/kargo/internal/testregistry"
)

// TestPush: each push is a new digest (even of the same tag), the tag
// points to the last, and the config carries the options.
func TestPush(t *testing.T) {
	ctx := context.Background()
	reg := testregistry.ForTest(t)
	created := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	first, err := reg.Push(ctx, "app:1.0.0", testregistry.ImageOptions{Cmd: []string{"sh", "-c", "exit 1"}, Env: []string{"A=b"}, Created: created})
	if err != nil {
		t.Fatal(err)
	}
	second, err := reg.Push(ctx, reg.Repo("app")+":1.0.1", testregistry.ImageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	again, err := reg.Push(ctx, "app:1.0.0", testregistry.ImageOptions{Created: created})
	if err != nil {
		t.Fatal(err)
	}
	if first == second || first == again {
		t.Fatalf("digests repeat: %s %s %s", first, second, again)
	}
	repo, err := name.NewRepository(reg.Repo("app"))
	if err != nil {
		t.Fatal(err)
	}
	tags, err := remote.List(repo, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(tags)
	if !slices.Equal(tags, []string{"1.0.0", "1.0.1"}) {
		t.Fatalf("tags = %v", tags)
	}
	desc, err := remote.Head(repo.Tag("1.0.0"), remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest.String() != again {
		t.Fatalf("1.0.0 points to %s, want the last push %s", desc.Digest, again)
	}
	img, err := remote.Image(repo.Digest(first), remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Created.Equal(created) || !slices.Equal(cfg.Config.Cmd, []string{"sh", "-c", "exit 1"}) ||
		!slices.Contains(cfg.Config.Env, "A=b") || cfg.OS != "linux" {
		t.Fatalf("config = created %s, cmd %v, env %v, os %q", cfg.Created, cfg.Config.Cmd, cfg.Config.Env, cfg.OS)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 2 {
		t.Fatalf("layers = %d, %v; want busybox and the release file", len(layers), err)
	}
}

// TestBasicAuth: a registry WithBasicAuth refuses anonymous reads and
// answers the right credentials (Push uses them).
func TestBasicAuth(t *testing.T) {
	ctx := context.Background()
	reg := testregistry.ForTest(t, testregistry.WithBasicAuth("kargo", "s3cret"))
	if _, err := reg.Push(ctx, "app:1.0.0", testregistry.ImageOptions{}); err != nil {
		t.Fatal(err)
	}
	repo, err := name.NewRepository(reg.Repo("app"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = remote.List(repo, remote.WithContext(ctx))
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous list: want 401, got %v", err)
	}
	tags, err := remote.List(repo, remote.WithContext(ctx), remote.WithAuth(&authn.Basic{Username: "kargo", Password: "s3cret"}))
	if err != nil || !slices.Equal(tags, []string{"1.0.0"}) {
		t.Fatalf("list with credentials = %v, %v", tags, err)
	}
}

// TestStartRefusesNonLoopback: Docker would not pull over plain HTTP from
// another address, so the registry does not serve there.
func TestStartRefusesNonLoopback(t *testing.T) {
	if reg, err := testregistry.Start("0.0.0.0:0"); err == nil {
		_ = reg.Close()
		t.Fatal("want an error for 0.0.0.0")
	}
}
