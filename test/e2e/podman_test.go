package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mcs-dns/multicluster/test/image"
	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// podman runs podman with the runtime and limits that work on these machines
// (../shared/notes/containers.md): crun cannot set RLIMIT_NOFILE here, runc can, and runc
// needs both limits given explicitly.
func podman(args ...string) (string, error) {
	full := append([]string{"--runtime", "runc"}, args...)
	out, err := exec.Command("podman", full...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("podman %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// podmanRunArgs are the `podman run` flags of a pod like deploy/deployment.yaml's: the
// image's own non-root user, a read-only root filesystem, no privilege escalation, every
// capability dropped but NET_BIND_SERVICE. The network is the caller's choice.
var podmanRunArgs = []string{
	"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000",
	"--read-only",
	"--security-opt", "no-new-privileges",
	"--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE",
}

// uniq keeps the names of this run's images and containers apart from those of another
// run of the suite on the same machine.
var uniq = strconv.Itoa(os.Getpid())

// needPodman skips (or fails, with MCS_E2E_REQUIRED) when podman or runc is missing.
func needPodman(t *testing.T) {
	t.Helper()
	for _, cmd := range []string{"podman", "runc"} {
		if _, err := exec.LookPath(cmd); err != nil {
			if required() {
				t.Fatalf("%s: %v (hack/install-deps.sh installs it)", cmd, err)
			}
			t.Skipf("%s: %v (hack/install-deps.sh installs it)", cmd, err)
		}
	}
}

// loadImage builds the image of bin/coredns (as `make image` does) into dir and loads it
// into podman under name; it returns the build's result. The image is removed at cleanup.
func loadImage(t *testing.T, dir, name string) image.Result {
	t.Helper()
	bin, err := harness.CoreDNSBinary()
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "coredns.oci.tar")
	res, err := image.Build(image.Options{Binary: bin, Output: archive, Name: name, Arch: runtime.GOARCH})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := podman("load", "-q", "-i", archive); err != nil {
		t.Fatal(err)
	}
	// Not -f: that would also remove containers of another run using the same image
	// (same binary, same digest); without it, podman only drops this run's name.
	t.Cleanup(func() { _, _ = podman("rmi", name) })
	return res
}

// container is a detached podman container.
type container struct{ name string }

// runContainer starts img detached with the pod-like flags plus extra, and removes the
// container at cleanup (its log goes to the test log when the test failed).
func runContainer(t *testing.T, name, img string, extra []string, args ...string) *container {
	t.Helper()
	_, _ = podman("rm", "-f", name)
	cmd := append([]string{"run", "-d", "--name", name}, podmanRunArgs...)
	cmd = append(cmd, extra...)
	cmd = append(cmd, img)
	cmd = append(cmd, args...)
	if _, err := podman(cmd...); err != nil {
		t.Fatal(err)
	}
	c := &container{name: name}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("podman logs %s:\n%s", name, c.logs())
		}
		_, _ = podman("rm", "-f", "-t", "0", name)
	})
	return c
}

func (c *container) logs() string {
	out, err := podman("logs", c.name)
	if err != nil {
		return err.Error()
	}
	return out
}

// inspect returns a field of `podman inspect` (a Go template such as {{.State.ExitCode}}).
func (c *container) inspect(format string) string {
	out, err := podman("inspect", "--format", format, c.name)
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(out)
}

// serviceAccountDir writes what the kubelet mounts at
// /var/run/secrets/kubernetes.io/serviceaccount for kube-system/coredns: a token the API
// server issued for the ServiceAccount (TokenRequest, as projected volumes get it), the
// cluster CA and the namespace. Everything is world-readable: the image runs as 65532.
func (s *suite) serviceAccountDir(t *testing.T, ctx context.Context, dir string) {
	t.Helper()
	ms, err := harness.LoadManifests(s.root)
	if err != nil {
		t.Fatal(err)
	}
	m, err := harness.FindManifest(ms, "ServiceAccount", "coredns")
	if err != nil {
		t.Fatal(err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: m.Obj.GetName(), Namespace: m.Obj.GetNamespace(), Labels: m.Obj.GetLabels()}}
	if _, err := s.clients.Kube.CoreV1().ServiceAccounts(sa.Namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	expiry := int64(3600)
	tr, err := s.clients.Kube.CoreV1().ServiceAccounts(sa.Namespace).CreateToken(ctx, sa.Name,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", sa.Namespace, sa.Name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"token":     []byte(tr.Status.Token),
		"ca.crt":    s.cp.CACert(),
		"namespace": []byte(sa.Namespace),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// deployCorefile returns the Corefile of deploy/configmap.yaml with what differs between
// a pod and this machine replaced: the ports (the container shares the host's network),
// and forward to the suite's CoreDNS instead of the node's resolver (no traffic leaves
// the machine). The kubernetes and multicluster stanzas are left as they are: in a pod
// they use the in-cluster configuration.
func (s *suite) deployCorefile(t *testing.T, port, ready, health, metrics int) string {
	t.Helper()
	ms, err := harness.LoadManifests(s.root)
	if err != nil {
		t.Fatal(err)
	}
	m, err := harness.FindManifest(ms, "ConfigMap", "coredns")
	if err != nil {
		t.Fatal(err)
	}
	corefile, _, _ := unstructured.NestedString(m.Obj.Object, "data", "Corefile")
	for _, r := range []struct{ old, new string }{
		{".:53 {", fmt.Sprintf(".:%d {\n    bind 127.0.0.1", port)},
		{"health {", fmt.Sprintf("health 127.0.0.1:%d {", health)},
		{"ready\n", fmt.Sprintf("ready 127.0.0.1:%d\n", ready)},
		{"prometheus :9153", fmt.Sprintf("prometheus 127.0.0.1:%d", metrics)},
		{"forward . /etc/resolv.conf", fmt.Sprintf("forward . 127.0.0.1:%d", s.port)},
	} {
		if strings.Count(corefile, r.old) != 1 {
			t.Fatalf("deploy/configmap.yaml's Corefile should contain %q once:\n%s", r.old, corefile)
		}
		corefile = strings.Replace(corefile, r.old, r.new, 1)
	}
	return corefile
}

// waitExit waits until the container has exited and returns its exit code.
func (c *container) waitExit(timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if c.inspect("{{.State.Running}}") == "false" {
			return strconv.Atoi(c.inspect("{{.State.ExitCode}}"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return -1, fmt.Errorf("container %s still running after %s", c.name, timeout)
}

// writeConfig writes corefile as dir/Corefile, readable by the image's user.
func writeConfig(t *testing.T, dir, corefile string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Corefile"), []byte(corefile), 0o644); err != nil {
		t.Fatal(err)
	}
}
