package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mcs-dns/multicluster/test/internal/harness"
)

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
	startNamed(t, bind, namedZone{name: "clusterset.local", kind: "secondary", port: p})
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

// TestNotifyFromBoundAddress: with "bind 127.0.0.77", NOTIFY leaves from 127.0.0.77, the
// address the secondary knows its primary by. BIND 9 accepts NOTIFY only from its
// primaries ("refused notify from non-primary" otherwise, and then it waits for the
// SOA refresh, 2 hours); the kernel would pick 127.0.0.1 towards BIND on 127.0.0.1.
func TestNotifyFromBoundAddress(t *testing.T) {
	s := need(t)
	ctx := context.Background()
	c := s.clients
	ns := "notify-src"
	mustNamespace(t, c, ns)
	ports, err := harness.FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	p, bind, prom, probe := ports[0], ports[1], ports[2], ports[3]
	// The first block, on 127.0.0.1, is there for the harness to wait on.
	corefile := fmt.Sprintf(`.:%[5]d {
    bind 127.0.0.1
    whoami
}
clusterset.local:%[1]d {
    bind 127.0.0.77
    prometheus 127.0.0.1:%[3]d
    multicluster {
        kubeconfig %[4]s
    }
    transfer {
        to 127.0.0.1:%[2]d
    }
}
`, p, bind, prom, s.kubeconfig, probe)
	api := harness.Import{Namespace: ns, Name: "api", IPs: []string{"10.64.0.1"}, Ports: []harness.Port{harness.TCP("http", 80)}}
	mustImport(t, c, api, false)
	startTestCoreDNS(t, probe, corefile)

	// BIND's primary is 127.0.0.77, and nothing else may notify it (its default).
	dir := startNamed(t, bind, namedZone{name: "clusterset.local", kind: "secondary", primary: "127.0.0.77", port: p})
	took := eventually(t, bind, fq("", "api", ns), "A", want{answer: []string{"A 10.64.0.1"}, foreign: true}, 20*time.Second)
	t.Logf("BIND loaded the zone from 127.0.0.77 after %s", took.Round(time.Millisecond))
	before := metrics(t, prom)

	api.IPs = []string{"10.64.0.2"}
	if err := c.UpdateImport(ctx, api, false); err != nil {
		t.Fatal(err)
	}
	took = eventually(t, bind, fq("", "api", ns), "A", want{answer: []string{"A 10.64.0.2"}, foreign: true}, freshness)
	t.Logf("BIND answers the new address after %s", took.Round(time.Millisecond))
	if log := namedLog(t, dir); strings.Contains(log, "refused notify") {
		t.Errorf("BIND refused a NOTIFY:\n%s", log)
	}
	after := metrics(t, prom)
	const sent, failed = `coredns_multicluster_notifies_total{result="sent"}`, `coredns_multicluster_notifies_total{result="failed"}`
	if d := after[sent] - before[sent]; d < 1 {
		t.Errorf("notifies_total{result=\"sent\"} moved by %v, want at least 1", d)
	}
	if d := after[failed] - before[failed]; d != 0 {
		t.Errorf("notifies_total{result=\"failed\"} moved by %v, want 0", d)
	}
}
