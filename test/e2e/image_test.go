package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcs-dns/multicluster/test/image"
	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// TestImageInCluster runs the image `make image` builds the way a kube-system pod runs it:
// under podman, as its non-root user with deploy/deployment.yaml's securityContext, with
// the in-cluster configuration only (a ServiceAccount token, ca.crt and namespace at
// /var/run/secrets/kubernetes.io/serviceaccount, KUBERNETES_SERVICE_HOST/PORT, no
// kubeconfig anywhere), the Corefile of deploy/configmap.yaml, and the identity bound to
// deploy/'s ClusterRole. It must become ready, answer both zones, report healthy, and on
// SIGTERM keep answering through the lameduck period, then exit 0.
func TestImageInCluster(t *testing.T) {
	s := need(t)
	needPodman(t)
	ctx := context.Background()
	dir := t.TempDir()
	name := "localhost/coredns-multicluster:e2e-" + uniq

	// Reproducible: a second build of the same binary has the same digest.
	res := loadImage(t, dir, name)
	bin, _ := harness.CoreDNSBinary()
	again, err := image.Build(image.Options{Binary: bin, Output: filepath.Join(dir, "again.tar"), Name: name, Arch: runtime.GOARCH})
	if err != nil {
		t.Fatal(err)
	}
	if again.Digest != res.Digest {
		t.Errorf("two builds of %s: digests %s and %s", bin, res.Digest, again.Digest)
	}
	t.Logf("image %s: %s, archive %.1f MB", name, res.Digest, float64(res.ArchiveSize)/1e6)
	if id, err := podman("image", "inspect", "--format", "{{.Digest}} {{.Config.User}}", name); err != nil ||
		strings.TrimSpace(id) != res.Digest.String()+" 65532:65532" {
		t.Errorf("podman image inspect: %q %v, want %s 65532:65532", id, err, res.Digest)
	}

	sa := filepath.Join(dir, "serviceaccount")
	s.serviceAccountDir(t, ctx, sa)
	ports, err := harness.FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	port, ready, health, metrics := ports[0], ports[1], ports[2], ports[3]
	conf := filepath.Join(dir, "config")
	corefile := s.deployCorefile(t, port, ready, health, metrics)
	if strings.Contains(corefile, "kubeconfig") {
		t.Fatalf("deploy/configmap.yaml's Corefile names a kubeconfig; in a pod it must use the in-cluster configuration:\n%s", corefile)
	}
	writeConfig(t, conf, corefile)

	ns := "image-incluster"
	mustNamespace(t, s.clients, ns)
	mustImport(t, s.clients, harness.Import{Namespace: ns, Name: "web", IPs: []string{"10.45.0.1"}, Ports: []harness.Port{harness.TCP("http", 80)}}, false)
	svc := mustLocalService(t, s.clients, ns, "local")

	// The node's network, as hostNetwork would have it: the container reaches the API
	// server on 127.0.0.1 and dig reaches the container there.
	c := runContainer(t, "mcs-e2e-incluster-"+uniq, name, []string{
		"--network", "host",
		"-e", "KUBERNETES_SERVICE_HOST=127.0.0.1",
		"-e", "KUBERNETES_SERVICE_PORT=" + strconv.Itoa(s.cp.SecurePort()),
		"-v", sa + ":/var/run/secrets/kubernetes.io/serviceaccount:ro",
		"-v", conf + ":/etc/coredns:ro",
	}, "-conf", "/etc/coredns/Corefile")

	if err := waitReady(ctx, ready, 30*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, c.logs())
	}
	if code, body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/health", health)); err != nil || code != 200 {
		t.Errorf("/health: %d %q %v", code, body, err)
	}
	if user := c.inspect("{{.Config.User}}"); user != "65532:65532" {
		t.Errorf("container user %q, want 65532:65532", user)
	}
	if top, err := podman("top", c.name, "user", "comm"); err != nil || !strings.Contains(top, "nonroot") {
		t.Errorf("podman top: %q %v, want coredns running as nonroot", top, err)
	}
	eventually(t, port, "web."+ns+".svc.clusterset.local.", "A", want{answer: []string{"A 10.45.0.1"}}, 5*time.Second)
	expectRows(t, port, []row{
		{"local." + ns + ".svc.cluster.local.", "A", want{answer: []string{"A " + svc.Spec.ClusterIP}, ttl: 30}},
		{"local." + ns + ".svc.clusterset.local.", "A", want{rcode: "NXDOMAIN"}},
		{"dns-version.clusterset.local.", "TXT", want{answer: []string{`TXT "1.0.0"`}}},
	})
	// A change after start reaches it through the in-cluster watch.
	mustImport(t, s.clients, harness.Import{Namespace: ns, Name: "later", IPs: []string{"10.45.0.2"}, Ports: []harness.Port{harness.TCP("http", 80)}}, false)
	eventually(t, port, "later."+ns+".svc.clusterset.local.", "A", want{answer: []string{"A 10.45.0.2"}}, 5*time.Second)
	log := c.logs()
	for _, bad := range []string{"kubeconfig", "Forbidden", "forbidden", "panic"} {
		if strings.Contains(log, bad) {
			t.Errorf("log mentions %q:\n%s", bad, log)
		}
	}

	// SIGTERM, as the kubelet sends it: the health plugin's lameduck (5s in
	// deploy/configmap.yaml) keeps the server answering while endpoints are withdrawn,
	// then CoreDNS exits 0, well before the kubelet's grace period (30s) would kill it.
	begin := time.Now()
	if _, err := podman("kill", "--signal", "TERM", c.name); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	expect(t, port, "web."+ns+".svc.clusterset.local.", "A", want{answer: []string{"A 10.45.0.1"}})
	code, err := c.waitExit(20 * time.Second)
	took := time.Since(begin)
	if err != nil || code != 0 {
		t.Fatalf("after SIGTERM: exit code %d, %v\n%s", code, err, c.logs())
	}
	if took < 4*time.Second {
		t.Errorf("exited %s after SIGTERM: the 5s lameduck was skipped", took.Round(time.Millisecond))
	}
	t.Logf("exit 0 %s after SIGTERM", took.Round(time.Millisecond))
	if log := c.logs(); !strings.Contains(log, "SIGTERM") {
		t.Errorf("log does not show the SIGTERM shutdown:\n%s", log)
	}
}

// TestImageBindsPort53 starts the image with deploy/deployment.yaml's securityContext
// (non-root, every capability dropped but NET_BIND_SERVICE) in a network namespace of its
// own, where nothing else holds port 53, and checks it binds port 53.
func TestImageBindsPort53(t *testing.T) {
	need(t)
	needPodman(t)
	dir := t.TempDir()
	name := "localhost/coredns-multicluster:e2e-53-" + uniq
	loadImage(t, dir, name)
	conf := filepath.Join(dir, "config")
	writeConfig(t, conf, ".:53 {\n    whoami\n}\n")
	cmd := append([]string{"run", "--rm", "--network", "none"}, podmanRunArgs...)
	cmd = append(cmd, name, "-version")
	if out, err := podman(cmd...); err != nil || !strings.Contains(out, "CoreDNS-") {
		t.Fatalf("coredns -version in the image: %q %v", out, err)
	}
	c := runContainer(t, "mcs-e2e-port53-"+uniq, name, []string{"--network", "none", "-v", conf + ":/etc/coredns:ro"}, "-conf", "/etc/coredns/Corefile")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(c.logs(), ".:53") {
		if time.Now().After(deadline) || c.inspect("{{.State.Running}}") == "false" {
			t.Fatalf("CoreDNS did not start on .:53 as non-root:\n%s", c.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if log := c.logs(); strings.Contains(log, "permission denied") {
		t.Errorf("binding port 53: %s", log)
	}
}
