package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// TestAXFRPassesNamedCheckzone: the zone this plugin transfers is a valid zone for BIND
// 9's own checker (named-checkzone from Debian's bind9-utils), with its integrity checks
// on: the in-zone NS target has addresses, SRV targets in the zone have addresses,
// owner names are valid.
func TestAXFRPassesNamedCheckzone(t *testing.T) {
	s := need(t)
	checkzone, err := exec.LookPath("named-checkzone")
	if err != nil {
		if required() {
			t.Fatal("named-checkzone not found (Debian bind9-utils; hack/install-deps.sh installs it)")
		}
		t.Skip("named-checkzone not found")
	}
	dumpLogOnFailure(t, s.dns)
	ns := "checkzone"
	loadSpecFixture(t, s.clients, ns)
	eventually(t, s.port, fq("db-0.west.us", "db", ns), "AAAA", want{answer: []string{"AAAA fd00:2::1"}}, 5*time.Second)

	rrs, out, err := harness.Transfer(s.port, Zone, nil)
	if err != nil {
		t.Fatalf("AXFR: %v\n%s", err, out)
	}
	var zone strings.Builder
	for _, rr := range rrs[:len(rrs)-1] { // the closing SOA is the transfer's, not the zone's
		zone.WriteString(rr.String() + "\n")
	}
	file := filepath.Join(t.TempDir(), "clusterset.local.zone")
	if err := os.WriteFile(file, []byte(zone.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// -i full: check in-zone NS, MX and SRV targets have addresses; -k fail and -n fail:
	// bad owner names and NS/MX/SRV targets that are CNAMEs or missing are errors.
	cmd := exec.Command(checkzone, "-i", "full", "-k", "fail", "-n", "fail", "-m", "fail", "-r", "fail", "-S", "fail", "-W", "warn", strings.TrimSuffix(Zone, "."), file)
	res, err := cmd.CombinedOutput()
	t.Logf("%s\n%s", strings.Join(cmd.Args, " "), res)
	if err != nil || !strings.Contains(string(res), "OK") {
		t.Fatalf("named-checkzone rejects the transferred zone (%d records): %v", len(rrs), err)
	}
	// Warnings count too: an SRV or NS target without addresses is a dangling reference.
	if strings.Contains(string(res), "has no address records") {
		t.Errorf("named-checkzone warns about targets without addresses")
	}
}

// TestSerialMonotonicAcrossRestart: a secondary that holds the serial served before a
// restart must see a serial at or after it from the restarted server (RFC 1982), even
// after bursts of changes; otherwise it keeps its copy until the zone expires.
func TestSerialMonotonicAcrossRestart(t *testing.T) {
	s := need(t)
	ports, err := harness.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	port := ports[0]
	corefile := fmt.Sprintf(`clusterset.local:%d {
    bind 127.0.0.1
    errors
    multicluster {
        kubeconfig %s
    }
    transfer {
        to *
    }
}
`, port, s.kubeconfig)
	c := startTestCoreDNS(t, port, corefile)
	ns := "restart"
	mustNamespace(t, s.clients, ns)
	// A burst of changes, each observed by an SOA query as a secondary polling (or
	// following NOTIFYs) would.
	var served uint32
	for i := range 40 {
		mustImport(t, s.clients, harness.Import{Namespace: ns, Name: fmt.Sprintf("s%d", i), IPs: []string{fmt.Sprintf("10.97.0.%d", i+1)}, Ports: []harness.Port{harness.TCP("http", 80)}}, false)
		eventually(t, port, fq("", fmt.Sprintf("s%d", i), ns), "A", want{answer: []string{fmt.Sprintf("A 10.97.0.%d", i+1)}}, freshness)
		if got := serial(t, port); int32(got-served) < 0 && served != 0 {
			t.Fatalf("serial went back from %d to %d while running", served, got)
		} else {
			served = got
		}
	}
	now := uint32(time.Now().Unix())
	if int32(served-now) > 0 {
		t.Errorf("serial %d is %d s ahead of the clock after 40 changes", served, served-now)
	}
	if err := c.Stop(); err != nil {
		t.Logf("stop: %v", err)
	}

	startTestCoreDNS(t, port, corefile)
	eventually(t, port, fq("", "s39", ns), "A", want{answer: []string{"A 10.97.0.40"}}, 10*time.Second)
	after := serial(t, port)
	if int32(after-served) < 0 {
		t.Errorf("serial after restart %d is below the last one served before it (%d)", after, served)
	}
	t.Logf("serial before restart %d, after %d", served, after)
}

// TestRootServerBlock: a bare "multicluster" in a ".:53" block serves clusterset.local
// (and logs that it does) instead of the root zone: names in clusterset.local answer,
// negative answers carry a well-formed SOA, and other names go to the next plugin.
func TestRootServerBlock(t *testing.T) {
	s := need(t)
	ports, err := harness.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	port := ports[0]
	corefile := fmt.Sprintf(`.:%d {
    bind 127.0.0.1
    errors
    multicluster {
        kubeconfig %s
    }
    whoami
}
`, port, s.kubeconfig)
	c := startTestCoreDNS(t, port, corefile)
	ns := "rootblock"
	mustNamespace(t, s.clients, ns)
	mustImport(t, s.clients, harness.Import{Namespace: ns, Name: "web", IPs: []string{"10.97.1.1"}, Ports: []harness.Port{harness.TCP("http", 80)}}, false)
	eventually(t, port, fq("", "web", ns), "A", want{answer: []string{"A 10.97.1.1"}}, freshness)
	// expect checks that the negative answer carries the zone's SOA.
	expect(t, port, fq("", "nope", ns), "A", want{rcode: "NXDOMAIN"})
	expect(t, port, "ns.dns."+Zone, "A", want{answer: []string{"A 127.0.0.1"}})
	// Outside clusterset.local the next plugin (whoami: an empty answer and the
	// client's address in the additional section) answers.
	r, err := harness.Query(port, "example.org.", "A")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != "NOERROR" || len(r.Additional) == 0 {
		t.Errorf("example.org. through the next plugin: %s", r.Raw)
	}
	if !strings.Contains(c.Log(), "serving clusterset.local.") {
		t.Error("no log line saying the root block serves clusterset.local")
	}
}
