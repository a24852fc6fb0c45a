package multicluster

import (
	"context"
	"net/netip"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/mcs-dns/multicluster/internal/object"

	"github.com/miekg/dns"
)

// ptrSet is clusterSet plus an address two clusters' endpoints share.
func ptrSet() []any {
	pg := []epPort{{"pg", tcp, 5432}}
	return append(clusterSet(),
		headlessImport("shop", "shared", nil),
		slice("shop", "shared-east", "shared", "east", ipv4, pg, ready("x", "10.7.0.1")),
		slice("shop", "shared-west", "shared", "west.us", ipv4, pg, ready("y", "10.7.0.1")))
}

var revSOA = test.SOA("in-addr.arpa. 5 IN SOA ns.dns.clusterset.local. hostmaster.clusterset.local. 1 7200 1800 86400 5")

func ptr(owner, target string) dns.RR { return test.PTR(owner + " 5 IN PTR " + target) }

func TestPTR(t *testing.T) {
	const z = ".shop.svc.clusterset.local."
	cases := []test.Case{
		// A ClusterSetIP VIP, IPv4 and IPv6.
		{Qname: "1.0.42.10.in-addr.arpa.", Qtype: dns.TypePTR, Answer: []dns.RR{ptr("1.0.42.10.in-addr.arpa.", "web"+z)}},
		{Qname: "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", Qtype: dns.TypePTR,
			Answer: []dns.RR{ptr("2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", "dual"+z)}},
		// Headless endpoints answer their per-endpoint names, with the cluster id.
		{Qname: "10.0.1.10.in-addr.arpa.", Qtype: dns.TypePTR, Answer: []dns.RR{ptr("10.0.1.10.in-addr.arpa.", "db-0.east.db"+z)}},
		{Qname: "10.0.2.10.in-addr.arpa.", Qtype: dns.TypePTR, Answer: []dns.RR{ptr("10.0.2.10.in-addr.arpa.", "db-0.west.us.db"+z)}},
		{Qname: "20.0.2.10.in-addr.arpa.", Qtype: dns.TypePTR, Answer: []dns.RR{ptr("20.0.2.10.in-addr.arpa.", "10-2-0-20.west.us.db"+z)}},
		// One name for an address two slices of one cluster carry under one name.
		{Qname: "1.0.3.10.in-addr.arpa.", Qtype: dns.TypePTR, Answer: []dns.RR{ptr("1.0.3.10.in-addr.arpa.", "a.east.dup"+z)}},
		// An address several names share answers all of them.
		{Qname: "1.0.7.10.in-addr.arpa.", Qtype: dns.TypePTR, Answer: []dns.RR{
			ptr("1.0.7.10.in-addr.arpa.", "x.east.shared"+z), ptr("1.0.7.10.in-addr.arpa.", "y.west.us.shared"+z)}},
		// Query names keep their spelling.
		{Qname: "1.0.42.10.IN-ADDR.arpa.", Qtype: dns.TypePTR, Answer: []dns.RR{ptr("1.0.42.10.IN-ADDR.arpa.", "web"+z)}},
		// Not-ready endpoints, addresses without a cluster id, unknown addresses: no PTR.
		{Qname: "12.0.1.10.in-addr.arpa.", Qtype: dns.TypePTR, Rcode: dns.RcodeNameError, Ns: []dns.RR{revSOA}},
		{Qname: "1.0.4.10.in-addr.arpa.", Qtype: dns.TypePTR, Rcode: dns.RcodeNameError, Ns: []dns.RR{revSOA}},
		{Qname: "9.9.9.9.in-addr.arpa.", Qtype: dns.TypePTR, Rcode: dns.RcodeNameError, Ns: []dns.RR{revSOA}},
		// Above an address with a PTR: the name exists (RFC 8020), NODATA.
		{Qname: "10.in-addr.arpa.", Qtype: dns.TypePTR, Ns: []dns.RR{revSOA}},
		// Other types at a known address: NODATA.
		{Qname: "1.0.42.10.in-addr.arpa.", Qtype: dns.TypeA, Ns: []dns.RR{revSOA}},
	}
	m := syncedPlugin("clusterset.local.", "in-addr.arpa.", "ip6.arpa.")
	if len(m.Zones) != 1 || len(m.rev) != 2 {
		t.Fatalf("zones %v, reverse %v: want one forward and two reverse zones", m.Zones, m.rev)
	}
	load(t, m, ptrSet()...)
	before := counterValue(t, ptrAnswers)
	ctx := context.TODO()
	for _, tc := range cases {
		w := dnstest.NewRecorder(&test.ResponseWriter{})
		if _, err := m.ServeDNS(ctx, w, tc.Msg()); err != nil {
			t.Fatalf("ServeDNS: %v", err)
		}
		if w.Msg == nil {
			t.Fatalf("%s: no answer", tc.Qname)
		}
		if err := test.SortAndCheck(w.Msg, tc); err != nil {
			t.Errorf("%s %s: %v", dns.TypeToString[tc.Qtype], tc.Qname, err)
		}
	}
	if d := counterValue(t, ptrAnswers) - before; d != 8 {
		t.Errorf("ptr_answers_total moved by %v, want 8", d)
	}

	// Updates: a removed service's addresses go; a changed one's follow.
	m.index.Publish(object.ServiceKey{Namespace: "shop", Name: "web"}, nil)
	m.index.Publish(object.ServiceKey{Namespace: "shop", Name: "shared"}, nil)
	for _, tc := range []test.Case{
		{Qname: "1.0.42.10.in-addr.arpa.", Qtype: dns.TypePTR, Rcode: dns.RcodeNameError, Ns: []dns.RR{revSOA}},
		{Qname: "1.0.7.10.in-addr.arpa.", Qtype: dns.TypePTR, Rcode: dns.RcodeNameError, Ns: []dns.RR{revSOA}},
		{Qname: "10.0.1.10.in-addr.arpa.", Qtype: dns.TypePTR, Answer: []dns.RR{ptr("10.0.1.10.in-addr.arpa.", "db-0.east.db"+z)}},
	} {
		w := dnstest.NewRecorder(&test.ResponseWriter{})
		m.ServeDNS(ctx, w, tc.Msg())
		if err := test.SortAndCheck(w.Msg, tc); err != nil {
			t.Errorf("after the delete: %s: %v", tc.Qname, err)
		}
	}
	if n, _ := m.index.ReverseSize(); n != len(reverseEntries(m)) {
		t.Errorf("reverse index has %d addresses, the records %d", n, len(reverseEntries(m)))
	}
}

// reverseEntries recomputes the reverse index's addresses from the records.
func reverseEntries(m *MultiCluster) map[string]bool {
	out := map[string]bool{}
	_, recs := m.index.Snapshot()
	for _, r := range recs {
		r.EachAddr(func(_ string, a netip.Addr) { out[a.String()] = true })
	}
	return out
}

// Narrow reverse zones (a CIDR server block) answer their addresses only; names
// outside every zone of the plugin go to the next plugin, so do reverse names the
// plugin has not when fallthrough is on (the kubernetes plugin's cluster.local PTRs
// come first in the chain, so they are never shadowed).
func TestPTRZonesAndFallthrough(t *testing.T) {
	m := syncedPlugin("clusterset.local.", "42.10.in-addr.arpa.")
	load(t, m, ptrSet()...)
	m.Next = test.NextHandler(dns.RcodeRefused, nil)
	ctx := context.TODO()
	serve := func(name string) (int, *dns.Msg) {
		w := dnstest.NewRecorder(&test.ResponseWriter{})
		rcode, err := m.ServeDNS(ctx, w, test.Case{Qname: name, Qtype: dns.TypePTR}.Msg())
		if err != nil {
			t.Fatal(err)
		}
		return rcode, w.Msg
	}
	if _, msg := serve("1.0.42.10.in-addr.arpa."); msg == nil || len(msg.Answer) != 1 {
		t.Errorf("VIP in the narrow zone: %v", msg)
	}
	if rcode, msg := serve("10.0.1.10.in-addr.arpa."); rcode != dns.RcodeRefused || msg != nil {
		t.Errorf("address outside the zone: rcode %d, msg %v; want the next plugin", rcode, msg)
	}
	if _, msg := serve("9.0.42.10.in-addr.arpa."); msg == nil || msg.Rcode != dns.RcodeNameError {
		t.Errorf("unknown address in the zone: %v, want NXDOMAIN", msg)
	}
	m.Fall.SetZonesFromArgs(nil)
	if rcode, msg := serve("9.0.42.10.in-addr.arpa."); rcode != dns.RcodeRefused || msg != nil {
		t.Errorf("unknown address with fallthrough: rcode %d, msg %v; want the next plugin", rcode, msg)
	}

	// Without reverse zones, PTR queries are not this plugin's and nothing is indexed.
	m = syncedPlugin()
	load(t, m, ptrSet()...)
	m.Next = test.NextHandler(dns.RcodeRefused, nil)
	if n, _ := m.index.ReverseSize(); n != 0 {
		t.Error("reverse index built without reverse zones")
	}
	w := dnstest.NewRecorder(&test.ResponseWriter{})
	if rcode, _ := m.ServeDNS(ctx, w, test.Case{Qname: "1.0.42.10.in-addr.arpa.", Qtype: dns.TypePTR}.Msg()); rcode != dns.RcodeRefused {
		t.Errorf("PTR without reverse zones: rcode %d, want the next plugin", rcode)
	}
}

func TestParseReverseZones(t *testing.T) {
	m := New([]string{"clusterset.local.", "10.in-addr.arpa.", "ip6.arpa."})
	if len(m.Zones) != 1 || len(m.rev) != 2 || m.rev[0].origin != "10.in-addr.arpa." {
		t.Fatalf("zones %v, reverse %+v", m.Zones, m.rev)
	}
}
