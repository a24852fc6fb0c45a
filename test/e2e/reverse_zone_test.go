package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// TestReverseZoneApexAndSecondaries: a reverse zone among the plugin's zones is a zone
// like the forward one. Its apex has SOA and NS (RFC 1034 §4.2.1), so a BIND 9 stub
// zone of it loads; the names between the apex and an address with a PTR are NODATA
// (RFC 8020); a BIND 9 secondary transfers it and, notified, answers a changed PTR
// within seconds.
func TestReverseZoneApexAndSecondaries(t *testing.T) {
	s := need(t)
	ctx := context.Background()
	c := s.clients
	ns := "revzone"
	mustNamespace(t, c, ns)
	ports, err := harness.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	p, bind := ports[0], ports[1]
	corefile := fmt.Sprintf(`.:%[1]d {
    bind 127.0.0.1
    multicluster clusterset.local 10.65.0.0/16 10.66.0.0/16 {
        kubeconfig %[3]s
    }
    transfer {
        to 127.0.0.1:%[2]d
    }
}
`, p, bind, s.kubeconfig)
	web := harness.Import{Namespace: ns, Name: "web", IPs: []string{"10.65.0.1"}, Ports: []harness.Port{harness.TCP("http", 80)}}
	mustImport(t, c, web, false)
	startTestCoreDNS(t, p, corefile)
	rev := func(addr string) string {
		r, err := dns.ReverseAddr(addr)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	webPTR := want{answer: []string{"PTR " + fq("", "web", ns)}}
	eventually(t, p, rev("10.65.0.1"), "PTR", webPTR, 10*time.Second)

	const zone, stub = "65.10.in-addr.arpa.", "66.10.in-addr.arpa."
	for _, r := range []row{
		{zone, "SOA", want{answer: []string{"SOA ns.dns.clusterset.local. hostmaster.clusterset.local. 7200 1800 86400 5"}}},
		{zone, "NS", want{answer: []string{"NS ns.dns.clusterset.local."}}},
		{stub, "NS", want{answer: []string{"NS ns.dns.clusterset.local."}}},
		{"0.65.10.in-addr.arpa.", "PTR", want{}},
		{"1.65.10.in-addr.arpa.", "PTR", want{rcode: "NXDOMAIN"}},
	} {
		resp := expect(t, p, r.name, r.qtype, r.want)
		if resp != nil && len(resp.Answer) == 0 {
			// RFC 2308: the SOA of the zone that holds the name.
			z := zone
			if strings.HasSuffix(r.name, stub) {
				z = stub
			}
			if len(resp.Authority) != 1 || resp.Authority[0].Header().Name != z || resp.Authority[0].Header().Rrtype != dns.TypeSOA {
				t.Errorf("%s %s: authority %v, want the SOA of %s", r.name, r.qtype, resp.Authority, z)
			}
		}
	}

	dir := startNamed(t, bind,
		namedZone{name: strings.TrimSuffix(zone, "."), kind: "secondary", port: p},
		namedZone{name: strings.TrimSuffix(stub, "."), kind: "stub", port: p})
	fromBIND := want{answer: []string{"PTR " + fq("", "web", ns)}, foreign: true}
	took := eventually(t, bind, rev("10.65.0.1"), "PTR", fromBIND, 20*time.Second)
	t.Logf("BIND transferred %s after %s", zone, took.Round(time.Millisecond))
	// A stub zone reads the apex SOA and NS from the primary and keeps the NS in its
	// file (BIND 9 ARM, "type stub").
	stubFile := namedZone{name: strings.TrimSuffix(stub, ".")}.file(dir)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(readFile(t, stubFile), "ns.dns.clusterset.local.") {
		if time.Now().After(deadline) {
			t.Fatalf("BIND's stub zone %s did not load: file %q\n%s", stub, readFile(t, stubFile), namedLog(t, dir))
		}
		time.Sleep(100 * time.Millisecond)
	}

	// NOTIFY covers the reverse zone: a changed VIP's PTR reaches BIND within seconds.
	web.IPs = []string{"10.65.0.2"}
	if err := c.UpdateImport(ctx, web, false); err != nil {
		t.Fatal(err)
	}
	took = eventually(t, bind, rev("10.65.0.2"), "PTR", fromBIND, freshness)
	t.Logf("BIND answers the new VIP's PTR after %s", took.Round(time.Millisecond))
	eventually(t, bind, rev("10.65.0.1"), "PTR", want{rcode: "NXDOMAIN", foreign: true}, freshness)
}
