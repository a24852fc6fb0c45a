package image

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// TestBuildReproducible builds the image twice from the same binary, at different times
// and from different files, and wants byte-identical archives; a different binary must
// change the digest.
func TestBuildReproducible(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "coredns")
	if err := os.WriteFile(bin, []byte("\x7fELF not really a binary"), 0o700); err != nil {
		t.Fatal(err)
	}
	a, b := filepath.Join(dir, "a.tar"), filepath.Join(dir, "b.tar")
	ra, err := Build(Options{Binary: bin, Output: a, Name: "localhost/x:1", Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(bin, time.Now().Add(time.Hour), time.Now().Add(time.Hour)); err != nil { // a new mtime must not matter
		t.Fatal(err)
	}
	rb, err := Build(Options{Binary: bin, Output: b, Name: "localhost/x:1", Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if ra.Digest != rb.Digest {
		t.Errorf("digests differ: %s, %s", ra.Digest, rb.Digest)
	}
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if !bytes.Equal(da, db) {
		t.Errorf("archives differ (%d and %d bytes)", len(da), len(db))
	}

	if err := os.WriteFile(bin, []byte("\x7fELF another binary"), 0o700); err != nil {
		t.Fatal(err)
	}
	rc, err := Build(Options{Binary: bin, Output: filepath.Join(dir, "c.tar"), Name: "localhost/x:1", Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if rc.Digest == ra.Digest {
		t.Errorf("a different binary gave the same digest %s", rc.Digest)
	}
}

// TestBuildContents reads the archive back as an OCI layout: one image, named, non-root,
// whose layer holds the binary with the bind capability and the user database.
func TestBuildContents(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "coredns")
	if err := os.WriteFile(bin, []byte("binary"), 0o700); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "img.tar")
	res, err := Build(Options{Binary: bin, Output: out, Name: "localhost/coredns-multicluster:test", Arch: "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	lp := untar(t, out, filepath.Join(dir, "layout"))
	idx, err := layout.Path(lp).ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != res.Digest ||
		im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "localhost/coredns-multicluster:test" {
		t.Fatalf("index.json: %+v, want one manifest %s named localhost/coredns-multicluster:test", im.Manifests, res.Digest)
	}
	img, err := idx.Image(res.Digest)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.User != "65532:65532" || len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != "/coredns" ||
		cfg.Architecture != "arm64" || cfg.OS != "linux" {
		t.Errorf("config: user %q entrypoint %q platform %s/%s", cfg.Config.User, cfg.Config.Entrypoint, cfg.OS, cfg.Architecture)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h
	}
	h := got["coredns"]
	if h == nil || h.Mode != 0o755 || h.Uid != 0 || h.PAXRecords["SCHILY.xattr.security.capability"] != string(netBindService()) {
		t.Errorf("coredns entry: %+v", h)
	}
	for _, name := range []string{"etc/", "etc/passwd", "etc/group"} {
		if got[name] == nil {
			t.Errorf("layer lacks %s", name)
		}
	}
	if len(got) != 4 {
		t.Errorf("layer has %d entries, want 4", len(got))
	}
}

func untar(t *testing.T, archive, dir string) string {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
