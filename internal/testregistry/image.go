package testregistry

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// ImageOptions say what a pushed image does and when it was built.
type ImageOptions struct {
	// Entrypoint and Cmd of the image config; default Cmd ["sleep",
	// "86400"], so a service of the image keeps running.
	Entrypoint []string
	Cmd        []string
	// Env of the image config (KEY=value).
	Env []string
	// Created is the build time in the image config (what a NewestBuild
	// subscription compares); default now.
	Created time.Time
}

// busyboxPath is the static busybox the images are made of.
const busyboxPath = "/bin/busybox"

// applets are the commands the images have, as symlinks to busybox: enough
// for a shell, a web server, probes and verification scripts.
var applets = []string{
	"sh", "sleep", "echo", "cat", "wget", "true", "false", "ls", "env", "test",
	"grep", "date", "ps", "kill", "mkdir", "rm", "nc", "httpd", "hostname", "uname",
}

// The busybox layer is the same for every image: built once, it is one
// blob in the registry and one pull for a dockerd, whatever the tag.
var (
	busyboxOnce  sync.Once
	busyboxLayer v1.Layer
	busyboxErr   error
)

// buildImage is busybox plus a layer with /etc/kargo-release, whose
// content (the reference and a random nonce) differs on every push.
func buildImage(ref string, opts ImageOptions) (v1.Image, error) {
	busyboxOnce.Do(func() { busyboxLayer, busyboxErr = newBusyboxLayer() })
	if busyboxErr != nil {
		return nil, busyboxErr
	}
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	release, err := layerOf(func(tw *tar.Writer) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "etc/", Mode: 0o755}); err != nil {
			return err
		}
		return writeFile(tw, "etc/kargo-release", 0o644, fmt.Appendf(nil, "%s\n%x\n", ref, nonce))
	})
	if err != nil {
		return nil, fmt.Errorf("build the release layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, busyboxLayer, release)
	if err != nil {
		return nil, fmt.Errorf("assemble the image: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read the image config: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	created := opts.Created
	if created.IsZero() {
		created = time.Now()
	}
	cfg.Created = v1.Time{Time: created.UTC()}
	cfg.Config.Entrypoint = opts.Entrypoint
	cfg.Config.Cmd = opts.Cmd
	if len(opts.Cmd) == 0 && len(opts.Entrypoint) == 0 {
		cfg.Config.Cmd = []string{"sleep", "86400"}
	}
	cfg.Config.Env = append([]string{"PATH=/bin"}, opts.Env...)
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("set the image config: %w", err)
	}
	return img, nil
}

// newBusyboxLayer is /bin/busybox and its applets' symlinks.
func newBusyboxLayer() (v1.Layer, error) {
	binary, err := os.ReadFile(busyboxPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoBusybox
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", busyboxPath, err)
	}
	if err := checkStatic(binary); err != nil {
		return nil, err
	}
	layer, err := layerOf(func(tw *tar.Writer) error {
		for _, dir := range []string{"bin/", "etc/", "tmp/"} {
			mode := int64(0o755)
			if dir == "tmp/" {
				mode = 0o1777
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: mode}); err != nil {
				return err
			}
		}
		if err := writeFile(tw, "bin/busybox", 0o755, binary); err != nil {
			return err
		}
		for _, a := range applets {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("build the busybox layer: %w", err)
	}
	return layer, nil
}

// checkStatic refuses a dynamically linked busybox (Debian's busybox
// package): the image has no libc for it.
func checkStatic(binary []byte) error {
	f, err := elf.NewFile(bytes.NewReader(binary))
	if err != nil {
		return fmt.Errorf("read %s as an executable: %w", busyboxPath, err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked: apt-get install busybox-static (the image has no libc)", busyboxPath)
		}
	}
	return nil
}

// layerOf is a gzipped layer of the tar write writes.
func layerOf(write func(*tar.Writer) error) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := write(tw); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithCompressedCaching)
}

func writeFile(tw *tar.Writer, name string, mode int64, content []byte) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(content))}); err != nil {
		return err
	}
	_, err := tw.Write(content)
	return err
}
