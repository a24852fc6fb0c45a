package e2e

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// TestLargeHeadless: a headless service with 500 endpoints over three clusters. Over UDP
// the answer does not fit and comes truncated (TC); over TCP it is complete.
func TestLargeHeadless(t *testing.T) {
	s := need(t)
	dumpLogOnFailure(t, s.dns)
	c := s.clients
	ns := "large"
	mustNamespace(t, c, ns)
	mustImport(t, c, harness.Import{Namespace: ns, Name: "big", Headless: true, Families: v4only, Ports: []harness.Port{harness.TCP("http", 80)}}, false)
	const n = 500
	clusters := []string{"east", "west.us", "eu"}
	var addrs, wantSRV []string
	for sl := 0; sl < 5; sl++ {
		cluster := clusters[sl%len(clusters)]
		var eps []harness.Endpoint
		for i := sl * n / 5; i < (sl+1)*n/5; i++ {
			addr := fmt.Sprintf("10.70.%d.%d", i/200, i%200+1)
			host := fmt.Sprintf("big-%d", i)
			eps = append(eps, harness.Ready(host, addr))
			addrs = append(addrs, "A "+addr)
			wantSRV = append(wantSRV, "SRV 80 "+fq(host+"."+cluster, "big", ns))
		}
		mustSlice(t, c, harness.Slice{Namespace: ns, Name: fmt.Sprintf("big-%d", sl), Service: "big", Cluster: cluster,
			Ports: []harness.Port{harness.TCP("http", 80)}, Endpoints: eps})
	}
	name := fq("", "big", ns)
	took := eventually(t, s.port, name, "A", want{answer: addrs}, 10*time.Second, "+tcp")
	t.Logf("%d endpoints in 5 slices served over TCP %s after the last slice was created", n, took.Round(time.Millisecond))

	// UDP (EDNS 1232 bytes, dig's default): truncated, TC set, no retry over TCP.
	r, err := harness.Query(s.port, name, "A", "+notcp", "+ignore")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Flags["tc"] || r.Status != "NOERROR" || len(r.Answer) >= n {
		t.Errorf("UDP answer: status %s, tc=%v, %d records; want NOERROR, tc, fewer than %d", r.Status, r.Flags["tc"], len(r.Answer), n)
	}
	t.Logf("UDP: tc=%v with %d of %d records", r.Flags["tc"], len(r.Answer), n)
	// Without EDNS (512 bytes) too.
	r, err = harness.Query(s.port, name, "A", "+notcp", "+ignore", "+noedns")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Flags["tc"] {
		t.Errorf("UDP answer without EDNS not truncated:\n%s", r.Raw)
	}

	// TCP: all 500, once each (eventually checked the exact set).
	r = expect(t, s.port, name, "A", want{answer: addrs}, "+tcp")
	if r != nil && r.Flags["tc"] {
		t.Error("TCP answer has TC set")
	}
	// dig's default: UDP, then TCP after TC.
	expect(t, s.port, name, "A", want{answer: addrs})

	// 500 SRV records with the cluster ids in their targets, and their addresses.
	r = expect(t, s.port, fq("_http._tcp", "big", ns), "SRV", want{answer: wantSRV}, "+tcp")
	if r != nil {
		var extra []string
		for _, rr := range r.Additional {
			if a, ok := rr.(*dns.A); ok {
				extra = append(extra, "A "+a.A.String())
			}
		}
		sort.Strings(extra)
		if len(extra) != n {
			t.Errorf("SRV over TCP: %d addresses in the additional section, want %d", len(extra), n)
		}
	}

	m := metrics(t, s.metricsPort)
	if got := m["coredns_multicluster_endpoints"]; got < n {
		t.Errorf("coredns_multicluster_endpoints = %v, want at least %d", got, n)
	}
}
