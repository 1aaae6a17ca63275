package registry_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/registry"
	"github.com/kargo-io/kargo/internal/testregistry"
)

func push(t *testing.T, reg *testregistry.Registry, ref string, created time.Time) string {
	t.Helper()
	digest, err := reg.Push(context.Background(), ref, testregistry.ImageOptions{Created: created})
	if err != nil {
		t.Fatal(err)
	}
	return digest
}

// summary is "tag@digest" per image, with the build time's hour when known.
func summary(images []kargov1.DiscoveredImage) []string {
	var out []string
	for _, i := range images {
		s := i.Tag + "@" + i.Digest
		if i.CreatedAt != nil {
			s += " " + i.CreatedAt.UTC().Format("15h")
		}
		out = append(out, s)
	}
	return out
}

// TestDiscover reads a real registry (pkg/registry on 127.0.0.1, over
// plain HTTP) with each strategy.
func TestDiscover(t *testing.T) {
	ctx := context.Background()
	reg := testregistry.ForTest(t)
	at := func(h int) time.Time { return time.Date(2026, 12, 1, h, 0, 0, 0, time.UTC) }
	// Pushed in an order that is neither the versions' nor the builds'.
	d101 := push(t, reg, "app:1.0.1", at(3))
	d100 := push(t, reg, "app:1.0.0", at(5))
	d200 := push(t, reg, "app:2.0.0", at(4))
	drc := push(t, reg, "app:1.1.0-rc.1", at(6))
	dlatest := push(t, reg, "app:latest", at(2))
	repo := reg.Repo("app")

	for _, tc := range []struct {
		name string
		sub  kargov1.ImageSubscription
		want []string
	}{
		{"semver", kargov1.ImageSubscription{ImageSelectionStrategy: kargov1.SemVerStrategy, SemverConstraint: "^1.0"},
			[]string{"1.0.1@" + d101, "1.0.0@" + d100}},
		{"semver, limit, insecure", kargov1.ImageSubscription{ImageSelectionStrategy: kargov1.SemVerStrategy, DiscoveryLimit: 1, Insecure: true},
			[]string{"2.0.0@" + d200}},
		{"lexical, ignoreTags", kargov1.ImageSubscription{ImageSelectionStrategy: kargov1.LexicalStrategy, IgnoreTags: "^latest$"},
			[]string{"2.0.0@" + d200, "1.1.0-rc.1@" + drc, "1.0.1@" + d101, "1.0.0@" + d100}},
		{"newest build", kargov1.ImageSubscription{ImageSelectionStrategy: kargov1.NewestBuildStrategy, AllowTags: `^\d`},
			[]string{"1.1.0-rc.1@" + drc + " 06h", "1.0.0@" + d100 + " 05h", "2.0.0@" + d200 + " 04h", "1.0.1@" + d101 + " 03h"}},
		{"digest", kargov1.ImageSubscription{ImageSelectionStrategy: kargov1.DigestStrategy, Tag: "latest"},
			[]string{"latest@" + dlatest}},
		{"digest of a missing tag", kargov1.ImageSubscription{ImageSelectionStrategy: kargov1.DigestStrategy, Tag: "stable"}, nil},
		{"nothing in range", kargov1.ImageSubscription{ImageSelectionStrategy: kargov1.SemVerStrategy, SemverConstraint: "^3"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.sub.RepoURL = repo
			images, err := registry.Discover(ctx, tc.sub, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := summary(images); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}

	// A moved tag is a new digest.
	moved := push(t, reg, "app:latest", at(7))
	images, err := registry.Discover(ctx, kargov1.ImageSubscription{RepoURL: repo, ImageSelectionStrategy: kargov1.DigestStrategy, Tag: "latest"}, nil)
	if err != nil || len(images) != 1 || images[0].Digest != moved {
		t.Fatalf("after moving latest: %v, %v; want %s", summary(images), err, moved)
	}

	// A repository never pushed has no images; that is not an error.
	images, err = registry.Discover(ctx, kargov1.ImageSubscription{RepoURL: reg.Repo("none")}, nil)
	if err != nil || len(images) != 0 {
		t.Fatalf("unknown repository: %v, %v", summary(images), err)
	}

	// A bad subscription is an InvalidError naming the field.
	_, err = registry.Discover(ctx, kargov1.ImageSubscription{RepoURL: repo, AllowTags: "("}, nil)
	var inv *registry.InvalidError
	if !errors.As(err, &inv) || inv.Field != "allowTags" {
		t.Fatalf("bad allowTags: %v", err)
	}
}

// TestDiscoverWithCredentials: a registry with basic authentication
// (testregistry wraps pkg/registry's handler with a check, since
// pkg/registry has none) is read with the credentials of a
// dockerconfigjson Secret, and refuses a discovery without them.
func TestDiscoverWithCredentials(t *testing.T) {
	ctx := context.Background()
	reg := testregistry.ForTest(t, testregistry.WithBasicAuth("kargo", "pull-s3cret"))
	digest := push(t, reg, "app:1.0.0", time.Now())
	sub := kargov1.ImageSubscription{RepoURL: reg.Repo("app"), ImageSelectionStrategy: kargov1.SemVerStrategy}

	_, err := registry.Discover(ctx, sub, nil)
	if err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Fatalf("anonymous: want UNAUTHORIZED, got %v", err)
	}
	auth := base64.StdEncoding.EncodeToString([]byte("kargo:pull-s3cret"))
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "pull"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths": {"` + reg.Host() + `": {"auth": "` + auth + `"}}}`)},
	}
	kc, err := registry.KeychainFromSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	images, err := registry.Discover(ctx, sub, kc)
	if err != nil || len(images) != 1 || images[0].Digest != digest {
		t.Fatalf("with credentials: %v, %v; want 1.0.0@%s", summary(images), err, digest)
	}
}
