package multicluster

import (
	"testing"

	"github.com/miekg/dns"
)

// BenchmarkPTR: a PTR query is a parse of the name and a map lookup; so is a name above
// the addresses (an empty non-terminal) and the apex.
func BenchmarkPTR(b *testing.B) {
	m := syncedPlugin("clusterset.local.", "in-addr.arpa.", "ip6.arpa.")
	load(b, m, ptrSet()...)
	benchQueries(b, m, "", []benchQuery{
		{"VIP", "1.0.42.10.in-addr.arpa.", dns.TypePTR},
		{"Endpoint", "10.0.1.10.in-addr.arpa.", dns.TypePTR},
		{"IPv6", "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", dns.TypePTR},
		{"Unknown", "9.9.9.9.in-addr.arpa.", dns.TypePTR},
		{"AboveAddresses", "0.42.10.in-addr.arpa.", dns.TypePTR},
		{"Apex_SOA", "in-addr.arpa.", dns.TypeSOA},
	})
}
