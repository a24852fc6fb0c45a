package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// named runs BIND 9 (Debian's bind9, installed by hack/install-deps.sh) as a secondary
// of clusterset.local whose primary is CoreDNS on 127.0.0.1:primary. The SOA refresh
// is 7,200 s, so only NOTIFY makes it transfer again within seconds.
func startNamed(t *testing.T, port, primary int) {
	t.Helper()
	bin, err := exec.LookPath("named")
	if err != nil {
		bin = "/usr/sbin/named"
		if _, serr := os.Stat(bin); serr != nil {
			if required() {
				t.Fatalf("named not found (run hack/install-deps.sh): %v", err)
			}
			t.Skipf("named not found (run hack/install-deps.sh): %v", err)
		}
	}
	dir := t.TempDir()
	conf := fmt.Sprintf(`options {
    directory "%[1]s";
    pid-file "%[1]s/named.pid";
    session-keyfile "%[1]s/session.key";
    managed-keys-directory "%[1]s";
    listen-on port %[2]d { 127.0.0.1; };
    listen-on-v6 { none; };
    recursion no;
    dnssec-validation no;
    notify no;
    allow-query { any; };
    // The shared cluster holds a 500-endpoint service (large_test.go); BIND 9.18
    // refuses RRsets over 100 records unless told otherwise.
    max-records-per-type 0;
    max-types-per-name 0;
};
zone "clusterset.local" {
    type secondary;
    primaries port %[3]d { 127.0.0.1; };
    file "%[1]s/clusterset.local.db";
};
`, dir, port, primary)
	if err := os.WriteFile(filepath.Join(dir, "named.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "named.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	// -g: foreground, log to stderr; no -u: stay the user the tests run as.
	cmd := exec.Command(bin, "-g", "-4", "-c", filepath.Join(dir, "named.conf"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("named log:\n%s", b)
		}
	})
}

// TestNotifyBINDSecondary: CoreDNS sends NOTIFY to the transfer plugin's "to" host
// when the serial moves, and BIND, a real secondary, answers a changed address within
// 2 s; a burst of changes sends a few NOTIFYs, not one per change.
func TestNotifyBINDSecondary(t *testing.T) {
	s := need(t)
	ctx := context.Background()
	c := s.clients
	ns := "notify"
	mustNamespace(t, c, ns)
	ports, err := harness.FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	p, bind, prom := ports[0], ports[1], ports[2]
	corefile := fmt.Sprintf(`clusterset.local:%[1]d {
    bind 127.0.0.1
    prometheus 127.0.0.1:%[3]d
    multicluster {
        kubeconfig %[4]s
    }
    transfer {
        to 127.0.0.1:%[2]d
    }
}
`, p, bind, prom, s.kubeconfig)
	api := harness.Import{Namespace: ns, Name: "api", IPs: []string{"10.63.0.1"}, Ports: []harness.Port{harness.TCP("http", 80)}}
	mustImport(t, c, api, false)
	startTestCoreDNS(t, p, corefile)
	eventually(t, p, fq("", "api", ns), "A", want{answer: []string{"A 10.63.0.1"}}, 10*time.Second)

	// BIND loads the zone with a transfer when it starts.
	startNamed(t, bind, p)
	fromBIND := want{answer: []string{"A 10.63.0.1"}, foreign: true}
	took := eventually(t, bind, fq("", "api", ns), "A", fromBIND, 20*time.Second)
	t.Logf("BIND loaded the zone after %s", took.Round(time.Millisecond))
	before := metrics(t, prom)

	for i, ip := range []string{"10.63.0.2", "10.63.0.3", "10.63.0.4"} {
		api.IPs = []string{ip}
		if err := c.UpdateImport(ctx, api, false); err != nil {
			t.Fatal(err)
		}
		took := eventually(t, bind, fq("", "api", ns), "A", want{answer: []string{"A " + ip}, foreign: true}, freshness)
		t.Logf("change %d: BIND answers the new address after %s", i+1, took.Round(time.Millisecond))
	}

	// A burst of 50 changes to 50 services: a few NOTIFYs, and BIND ends with all of them.
	sentBefore := metrics(t, prom)[`coredns_multicluster_notifies_total{result="sent"}`]
	for i := range 50 {
		mustImport(t, c, harness.Import{Namespace: ns, Name: fmt.Sprintf("burst-%d", i), IPs: []string{fmt.Sprintf("10.63.1.%d", i+1)}, Ports: []harness.Port{harness.TCP("http", 80)}}, false)
	}
	took = eventually(t, bind, fq("", "burst-49", ns), "A", want{answer: []string{"A 10.63.1.50"}, foreign: true}, freshness)
	t.Logf("burst of 50 changes: BIND has the last one %s after the last change", took.Round(time.Millisecond))
	time.Sleep(time.Second)
	m := metrics(t, prom)
	sent := m[`coredns_multicluster_notifies_total{result="sent"}`] - sentBefore
	t.Logf("NOTIFYs for the burst of 50 changes: %v", sent)
	if sent < 1 || sent > 25 {
		t.Errorf("%v NOTIFYs for a burst of 50 changes, want a few (coalesced)", sent)
	}
	if f := m[`coredns_multicluster_notifies_total{result="failed"}`] - before[`coredns_multicluster_notifies_total{result="failed"}`]; f != 0 {
		t.Errorf("%v NOTIFYs failed while BIND was up", f)
	}
}
