// Package image builds the CoreDNS image with the multicluster plugin as an OCI archive,
// reproducibly and without a container daemon (see cmd/mcs-image and `make image`).
package image

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Options say what to package and where.
type Options struct {
	Binary string // the CoreDNS binary
	Output string // the OCI archive
	Name   string // the image name recorded in the archive's index
	Arch   string // GOARCH of the binary
}

// Result is what Build wrote.
type Result struct {
	Digest      v1.Hash // the image manifest's digest: what a registry reports
	ArchiveSize int64
	LayerSize   int64
}

// NonRoot is the user and group the image runs as: the distroless "nonroot" ids, which
// kubeadm's stock CoreDNS image (registry.k8s.io/coredns/coredns, built FROM
// gcr.io/distroless/static:nonroot) also runs as, so a securityContext written for it fits.
const NonRoot = 65532

// epoch is every timestamp in the image: fixed, so the digest depends only on the binary.
var epoch = time.Unix(0, 0).UTC()

// Build writes the image to o.Output and returns its digest.
func Build(o Options) (Result, error) {
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return Result{}, fmt.Errorf("reading the binary (run `make coredns` first): %w", err)
	}
	rootfs, err := rootFS(bin)
	if err != nil {
		return Result{}, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(rootfs)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return Result{}, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	if img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{
		Created: v1.Time{Time: epoch}, CreatedBy: "make image: /coredns, /etc/passwd, /etc/group",
	}}); err != nil {
		return Result{}, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return Result{}, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", o.Arch
	cfg.Created = v1.Time{Time: epoch}
	cfg.Config = v1.Config{
		User:         fmt.Sprintf("%d:%d", NonRoot, NonRoot),
		Entrypoint:   []string{"/coredns"},
		WorkingDir:   "/",
		ExposedPorts: map[string]struct{}{"53/tcp": {}, "53/udp": {}, "9153/tcp": {}},
		Labels: map[string]string{
			"org.opencontainers.image.title":       "coredns-multicluster",
			"org.opencontainers.image.description": "CoreDNS with the multicluster plugin (Kubernetes Multi-Cluster Services DNS)",
		},
	}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return Result{}, err
	}
	digest, err := img.Digest()
	if err != nil {
		return Result{}, err
	}
	lsize, err := layer.Size()
	if err != nil {
		return Result{}, err
	}

	dir, err := os.MkdirTemp("", "mcs-image-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return Result{}, err
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": o.Name,
	})); err != nil {
		return Result{}, err
	}
	size, err := tarDir(dir, o.Output)
	if err != nil {
		return Result{}, err
	}
	return Result{Digest: digest, ArchiveSize: size, LayerSize: lsize}, nil
}

// rootFS is the layer's uncompressed tar: owned by root, the binary executable by all.
func rootFS(bin []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files := []struct {
		hdr  tar.Header
		data []byte
	}{
		{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "etc/", Mode: 0o755}},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "etc/group", Mode: 0o644},
			data: fmt.Appendf(nil, "root:x:0:\nnonroot:x:%d:\n", NonRoot)},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "etc/passwd", Mode: 0o644},
			data: fmt.Appendf(nil, "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", NonRoot, NonRoot)},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "coredns", Mode: 0o755, Format: tar.FormatPAX,
			PAXRecords: map[string]string{"SCHILY.xattr.security.capability": string(netBindService())}},
			data: bin},
	}
	for _, f := range files {
		h := f.hdr
		h.Size = int64(len(f.data))
		h.ModTime, h.Uname, h.Gname = epoch, "root", "root"
		if err := tw.WriteHeader(&h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// netBindService is the security.capability extended attribute for
// cap_net_bind_service=+ep (struct vfs_cap_data, revision 2, in linux/capability.h): the
// same file capability upstream CoreDNS's image sets with setcap, so the non-root process
// may bind port 53 even when the runtime gives it no ambient capabilities.
func netBindService() []byte {
	const (
		revision2         = 0x02000000
		flagEffective     = 0x000001
		capNetBindService = 10
	)
	b := make([]byte, 20)
	binary.LittleEndian.PutUint32(b[0:], revision2|flagEffective)
	binary.LittleEndian.PutUint32(b[4:], 1<<capNetBindService) // permitted, low word
	return b                                                   // inheritable and high words stay 0
}

// tarDir writes the OCI layout in dir as a tar archive (what `oci-archive:` readers, podman
// load and skopeo, take) with sorted entries and fixed metadata, and returns its size.
func tarDir(dir, out string) (int64, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return 0, err
	}
	sort.Strings(paths)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return 0, err
	}
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp)
	tw := tar.NewWriter(f)
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return 0, err
		}
		rel, _ := filepath.Rel(dir, p)
		h := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, ModTime: epoch, Typeflag: tar.TypeReg, Size: st.Size()}
		if st.IsDir() {
			h.Name += "/"
			h.Mode, h.Typeflag, h.Size = 0o755, tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return 0, err
		}
		if !st.IsDir() {
			if err := copyFile(tw, p); err != nil {
				return 0, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	st, err := os.Stat(tmp)
	if err != nil {
		return 0, err
	}
	return st.Size(), os.Rename(tmp, out)
}

func copyFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
