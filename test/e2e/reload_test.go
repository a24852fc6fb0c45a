package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// TestReload: CoreDNS reloads its Corefile (SIGUSR1, what the reload plugin of deploy/'s
// Corefile does when the ConfigMap changes): the plugin restarts its watches with the new
// settings and keeps answering and following changes.
func TestReload(t *testing.T) {
	s := need(t)
	ports, err := harness.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	port, ready := ports[0], ports[1]
	corefile := fmt.Sprintf(`.:%d {
    bind 127.0.0.1
    errors
    ready 127.0.0.1:%d
    multicluster clusterset.local {
        kubeconfig %s
        ttl 5
    }
}
`, port, ready, s.kubeconfig)
	dir := t.TempDir()
	c, err := startCoreDNS(context.Background(), dir, port, corefile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Kill() })
	dumpLogOnFailure(t, c)
	ns := "reload"
	mustNamespace(t, s.clients, ns)
	mustImport(t, s.clients, harness.Import{Namespace: ns, Name: "a", IPs: []string{"10.96.1.1"}, Ports: []harness.Port{harness.TCP("http", 80)}}, false)
	eventually(t, port, fq("", "a", ns), "A", want{answer: []string{"A 10.96.1.1"}}, freshness)

	if err := os.WriteFile(filepath.Join(dir, "Corefile"), []byte(strings.Replace(corefile, "ttl 5", "ttl 7", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(c.PID, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, port, fq("", "a", ns), "A", want{answer: []string{"A 10.96.1.1"}, ttl: 7}, 10*time.Second)
	t.Logf("reloaded with ttl 7 after %s", took.Round(time.Millisecond))
	mustImport(t, s.clients, harness.Import{Namespace: ns, Name: "b", IPs: []string{"10.96.1.2"}, Ports: []harness.Port{harness.TCP("http", 80)}}, false)
	eventually(t, port, fq("", "b", ns), "A", want{answer: []string{"A 10.96.1.2"}, ttl: 7}, freshness)
	expect(t, port, fq("", "nope", ns), "A", want{rcode: "NXDOMAIN", ttl: 7})
	if code, _, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/ready", ready)); err != nil || code != 200 {
		t.Errorf("/ready after reload: %d %v", code, err)
	}
	if !strings.Contains(c.Log(), "Reloading complete") {
		t.Error("CoreDNS did not log a completed reload")
	}
}
