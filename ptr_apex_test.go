package multicluster

import (
	"context"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/mcs-dns/multicluster/internal/object"

	"github.com/miekg/dns"
)

func revSOAOf(zone string) dns.RR {
	return test.SOA(zone + " 5 IN SOA ns.dns.clusterset.local. hostmaster.clusterset.local. 1 7200 1800 86400 5")
}

func revNS(owner string) dns.RR { return test.NS(owner + " 5 IN NS ns.dns.clusterset.local.") }

// TestReverseApexAndEmptyNonTerminals: a reverse zone has SOA and NS at its apex (RFC
// 1034 §4.2.1, RFC 1035 §5.2), and the names between its apex and the addresses it
// has PTRs for exist without data (RFC 8020: an NXDOMAIN there would deny the PTRs
// below), as the forward zone's empty non-terminals do (spec R9).
func TestReverseApexAndEmptyNonTerminals(t *testing.T) {
	const v6 = "ip6.arpa."
	ip6SOA, narrowSOA := revSOAOf(v6), revSOAOf("42.10.in-addr.arpa.")
	cases := []test.Case{
		// Apexes: SOA and NS, NODATA for other types, ANY both.
		{Qname: "in-addr.arpa.", Qtype: dns.TypeSOA, Answer: []dns.RR{revSOA}},
		{Qname: "in-addr.arpa.", Qtype: dns.TypeNS, Answer: []dns.RR{revNS("in-addr.arpa.")}},
		{Qname: "In-Addr.Arpa.", Qtype: dns.TypeNS, Answer: []dns.RR{revNS("In-Addr.Arpa.")}},
		{Qname: "in-addr.arpa.", Qtype: dns.TypeANY, Answer: []dns.RR{revNS("in-addr.arpa."), revSOA}},
		{Qname: "in-addr.arpa.", Qtype: dns.TypePTR, Ns: []dns.RR{revSOA}},
		{Qname: v6, Qtype: dns.TypeSOA, Answer: []dns.RR{ip6SOA}},
		{Qname: v6, Qtype: dns.TypeNS, Answer: []dns.RR{revNS(v6)}},
		{Qname: "42.10.in-addr.arpa.", Qtype: dns.TypeSOA, Answer: []dns.RR{narrowSOA}},
		{Qname: "42.10.in-addr.arpa.", Qtype: dns.TypeNS, Answer: []dns.RR{revNS("42.10.in-addr.arpa.")}},
		// Empty non-terminals above addresses with PTRs: NODATA, with the SOA of the
		// zone that holds them.
		{Qname: "10.in-addr.arpa.", Qtype: dns.TypePTR, Ns: []dns.RR{revSOA}},
		{Qname: "10.in-addr.arpa.", Qtype: dns.TypeNS, Ns: []dns.RR{revSOA}},
		{Qname: "1.10.in-addr.arpa.", Qtype: dns.TypePTR, Ns: []dns.RR{revSOA}},
		{Qname: "0.1.10.in-addr.arpa.", Qtype: dns.TypePTR, Ns: []dns.RR{revSOA}},
		{Qname: "0.42.10.in-addr.arpa.", Qtype: dns.TypePTR, Ns: []dns.RR{narrowSOA}},
		{Qname: "4.10.in-addr.arpa.", Qtype: dns.TypePTR, Ns: []dns.RR{revSOA}},
		{Qname: "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", Qtype: dns.TypePTR, Ns: []dns.RR{ip6SOA}},
		{Qname: "d.f.ip6.arpa.", Qtype: dns.TypePTR, Ns: []dns.RR{ip6SOA}},
		{Qname: "f.ip6.arpa.", Qtype: dns.TypeAAAA, Ns: []dns.RR{ip6SOA}},
		// Nothing below: NXDOMAIN. 10.4.1.1 is not ready, 10.4.0.1 has no cluster id.
		{Qname: "1.4.10.in-addr.arpa.", Qtype: dns.TypePTR, Rcode: dns.RcodeNameError, Ns: []dns.RR{revSOA}},
		{Qname: "0.4.10.in-addr.arpa.", Qtype: dns.TypePTR, Rcode: dns.RcodeNameError, Ns: []dns.RR{revSOA}},
		{Qname: "11.in-addr.arpa.", Qtype: dns.TypePTR, Rcode: dns.RcodeNameError, Ns: []dns.RR{revSOA}},
		{Qname: "1.42.10.in-addr.arpa.", Qtype: dns.TypePTR, Ns: []dns.RR{narrowSOA}},
		{Qname: "2.42.10.in-addr.arpa.", Qtype: dns.TypePTR, Rcode: dns.RcodeNameError, Ns: []dns.RR{narrowSOA}},
		{Qname: "e.f.ip6.arpa.", Qtype: dns.TypePTR, Rcode: dns.RcodeNameError, Ns: []dns.RR{ip6SOA}},
		// Labels that are not octets or nibbles, or too many of them: no such name.
		{Qname: "x.10.in-addr.arpa.", Qtype: dns.TypePTR, Rcode: dns.RcodeNameError, Ns: []dns.RR{revSOA}},
		{Qname: "010.in-addr.arpa.", Qtype: dns.TypePTR, Rcode: dns.RcodeNameError, Ns: []dns.RR{revSOA}},
		{Qname: "256.in-addr.arpa.", Qtype: dns.TypePTR, Rcode: dns.RcodeNameError, Ns: []dns.RR{revSOA}},
		{Qname: "1.1.0.42.10.in-addr.arpa.", Qtype: dns.TypePTR, Rcode: dns.RcodeNameError, Ns: []dns.RR{narrowSOA}},
		{Qname: "dd.f.ip6.arpa.", Qtype: dns.TypePTR, Rcode: dns.RcodeNameError, Ns: []dns.RR{ip6SOA}},
	}
	m := syncedPlugin("clusterset.local.", "in-addr.arpa.", "42.10.in-addr.arpa.", "ip6.arpa.")
	load(t, m, ptrSet()...)
	serveReverse(t, m, cases)

	// The empty non-terminals follow the addresses: with every 10.42.0.x address gone,
	// 0.42.10.in-addr.arpa. no longer exists; 42.10 does (10.42.1.1).
	for _, svc := range []string{"web", "dual", "nofam", "samenum"} {
		m.index.Publish(object.ServiceKey{Namespace: "shop", Name: svc}, nil)
	}
	serveReverse(t, m, []test.Case{
		{Qname: "0.42.10.in-addr.arpa.", Qtype: dns.TypePTR, Rcode: dns.RcodeNameError, Ns: []dns.RR{narrowSOA}},
		{Qname: "1.42.10.in-addr.arpa.", Qtype: dns.TypePTR, Ns: []dns.RR{narrowSOA}},
		{Qname: "42.10.in-addr.arpa.", Qtype: dns.TypeSOA, Answer: []dns.RR{narrowSOA}},
		{Qname: "10.in-addr.arpa.", Qtype: dns.TypePTR, Ns: []dns.RR{revSOA}},
	})
	m.index.Publish(object.ServiceKey{Namespace: "legacy", Name: "old"}, nil)
	serveReverse(t, m, []test.Case{
		{Qname: "1.42.10.in-addr.arpa.", Qtype: dns.TypePTR, Rcode: dns.RcodeNameError, Ns: []dns.RR{narrowSOA}},
		{Qname: "42.10.in-addr.arpa.", Qtype: dns.TypeNS, Answer: []dns.RR{revNS("42.10.in-addr.arpa.")}},
	})
}

func serveReverse(t *testing.T, m *MultiCluster, cases []test.Case) {
	t.Helper()
	for _, tc := range cases {
		w := dnstest.NewRecorder(&test.ResponseWriter{})
		if _, err := m.ServeDNS(context.TODO(), w, tc.Msg()); err != nil {
			t.Fatalf("ServeDNS: %v", err)
		}
		if w.Msg == nil {
			t.Fatalf("%s: no answer", tc.Qname)
		}
		if err := test.SortAndCheck(w.Msg, tc); err != nil {
			t.Errorf("%s %s: %v", dns.TypeToString[tc.Qtype], tc.Qname, err)
		}
	}
}
