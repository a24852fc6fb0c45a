package node

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/mcs-dns/multicluster/test/image"
)

// BusyboxImage is the image test pods run: Debian's busybox-static (sh, nslookup, nc, ...) plus
// glibc's getent with the libraries it loads, so that a pod resolves names through glibc's stub
// resolver with the kubelet's resolv.conf (search path, ndots:5) as applications do.
const BusyboxImage = "docker.io/library/busybox:1.36"

// Busybox and glibc, from Debian's busybox-static and libc-bin.
const (
	busyboxBin = "/bin/busybox"
	getentBin  = "/usr/bin/getent"
)

// epoch is every timestamp in the images: the same files give the same digest.
var epoch = time.Unix(0, 0).UTC()

// The images the MCS conformance suite's workloads name (sigs.k8s.io/mcs-api/conformance,
// k8s_objects.go), built here under those names: no spec sets imagePullPolicy and neither tag is
// latest, so the kubelet uses them as present (IfNotPresent). The request pod runs `sh -ec` and
// exec's `nslookup -type=A|AAAA|SRV`, which busybox's nslookup answers in the form the suite
// parses; the hello pods run a `sh -c` script of echo, grep, tr and awk that starts socat
// (Debian's, with the libraries it loads).
const (
	NetshootImage = "docker.io/nicolaka/netshoot:v0.15"
	SocatImage    = "docker.io/alpine/socat:1.7.4.4"
)

const (
	socatBin     = "/usr/bin/socat"
	ncOpenBSDBin = "/usr/bin/nc.openbsd"
	dashBin      = "/usr/bin/dash"
)

// WriteImages writes the sandbox image, BusyboxImage and the conformance suite's images as
// docker archives into dir and returns their paths, for ImportImage. No registry is reachable
// here: every image a node runs is built from files of this machine.
func WriteImages(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	files, err := busyboxFiles()
	if err != nil {
		return nil, err
	}
	socat, err := binaryFiles(socatBin, "apt-get install -y socat")
	if err != nil {
		return nil, err
	}
	// The suite's connectivity specs run `sh -c "echo hi | nc -v -w 2 -4|-6 NAME 42"`:
	// BusyBox's nc has neither -v nor -4, OpenBSD's (Debian's netcat-openbsd) has both; it takes
	// bin/nc's place. Debian's BusyBox shell runs its own applets before searching PATH
	// (FEATURE_SH_STANDALONE), so bin/sh is Debian's dash, which searches PATH.
	ncOpenBSD, err := binaryFiles(ncOpenBSDBin, "apt-get install -y netcat-openbsd")
	if err != nil {
		return nil, err
	}
	dash, err := binaryFiles(dashBin, "apt-get install -y dash")
	if err != nil {
		return nil, err
	}
	ncOpenBSD[0].path, dash[0].path = "bin/nc", "bin/sh"
	netshoot := append(append([]imageFile{}, ncOpenBSD...), dash...)
	for _, f := range files {
		if f.path != "bin/nc" && f.path != "bin/sh" {
			netshoot = append(netshoot, f)
		}
	}
	images := []struct {
		ref, file string
		files     []imageFile
		cmd       []string
	}{
		// The sandbox holds the pod's namespaces and does nothing: what pause does.
		{SandboxImage, "pause.tar", files, []string{"/bin/sleep", "2147483647"}},
		{BusyboxImage, "busybox.tar", files, []string{"/bin/sh"}},
		{NetshootImage, "netshoot.tar", netshoot, []string{"/bin/sh"}},
		{SocatImage, "socat.tar", append(append([]imageFile{}, files...), socat...), []string{"/bin/sh"}},
	}
	var out []string
	for _, im := range images {
		path := filepath.Join(dir, im.file)
		if err := writeImage(path, im.ref, im.files, im.cmd); err != nil {
			return nil, fmt.Errorf("image %s: %w", im.ref, err)
		}
		out = append(out, path)
	}
	return out, nil
}

// ImportImages writes the pods' images (WriteImages) and an image of the CoreDNS binary bin
// named name (what `make image` builds) into dir, and imports them all into the node's
// containerd: there is no registry to pull from.
func (n *Node) ImportImages(ctx context.Context, dir, bin, name string) error {
	archives, err := WriteImages(dir)
	if err != nil {
		return err
	}
	archive := filepath.Join(dir, "coredns-multicluster.oci.tar")
	if _, err := image.Build(image.Options{Binary: bin, Output: archive, Name: name, Arch: runtime.GOARCH}); err != nil {
		return err
	}
	for _, a := range append(archives, archive) {
		if err := n.ImportImage(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

// imageFile is one file of an image's only layer: a regular file with its bytes, or a symlink.
type imageFile struct {
	path, link string
	data       []byte
	mode       int64
}

func busyboxFiles() ([]imageFile, error) {
	bb, err := os.ReadFile(busyboxBin)
	if err != nil {
		return nil, fmt.Errorf("%w (apt-get install -y busybox-static)", err)
	}
	files := []imageFile{{path: "bin/busybox", data: bb, mode: 0o755}}
	list, err := exec.Command(busyboxBin, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w", err)
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet != "busybox" {
			files = append(files, imageFile{path: "bin/" + applet, link: "busybox"})
		}
	}
	// getent and what the dynamic loader maps for it (glibc 2.36 has its NSS "files" and "dns"
	// modules built into libc.so.6).
	getent, err := binaryFiles(getentBin, "apt-get install -y libc-bin")
	if err != nil {
		return nil, err
	}
	files = append(files, getent...)
	files = append(files,
		imageFile{path: "etc/nsswitch.conf", data: []byte("hosts: files dns\n"), mode: 0o644},
		imageFile{path: "tmp/.keep", mode: 0o644},
	)
	return files, nil
}

// binaryFiles is a dynamically linked program with the libraries ldd resolves for it, at the
// paths the loader looks for them.
func binaryFiles(bin, fix string) ([]imageFile, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%w (%s)", err, fix)
	}
	libs, err := sharedLibraries(bin)
	if err != nil {
		return nil, err
	}
	var files []imageFile
	for _, p := range append([]string{bin}, libs...) {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		files = append(files, imageFile{path: strings.TrimPrefix(p, "/"), data: data, mode: 0o755})
	}
	return files, nil
}

// sharedLibraries lists the libraries ldd resolves for bin, the loader included.
func sharedLibraries(bin string) ([]string, error) {
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", bin, err)
	}
	var libs []string
	for _, line := range strings.Split(string(out), "\n") {
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "/") {
				libs = append(libs, f)
			}
		}
	}
	return libs, nil
}

func writeImage(path, ref string, files []imageFile, cmd []string) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, f := range files {
		for d := filepath.Dir(f.path); d != "."; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	for d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch}); err != nil {
			return err
		}
	}
	written := map[string]bool{}
	for _, f := range files {
		if written[f.path] {
			continue // a library two programs load
		}
		written[f.path] = true
		h := &tar.Header{Name: f.path, Mode: f.mode, ModTime: epoch, Typeflag: tar.TypeReg, Size: int64(len(f.data))}
		if f.link != "" {
			h = &tar.Header{Name: f.path, Linkname: f.link, Mode: 0o777, ModTime: epoch, Typeflag: tar.TypeSymlink}
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(buf.Bytes())), nil
	})
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Created = "linux", runtime.GOARCH, v1.Time{Time: epoch}
	cfg.Config = v1.Config{Cmd: cmd, Env: []string{"PATH=/bin:/usr/bin"}}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return err
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	return tarball.WriteToFile(path, tag, img)
}
