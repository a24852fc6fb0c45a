package multicluster

import (
	"net"
	"strings"

	"github.com/miekg/dns"
)

// The functions here turn prepared records into dns.RR values. Each call allocates one
// backing array per RRset and copies the prepared data into it, so no plugin further up
// the chain (rewrite, loadbalance, ...) can change the prepared records by changing an
// answer. Addresses are slices of the packed, immutable address bytes.

func header(owner string, rrtype uint16, ttl uint32) dns.RR_Header {
	return dns.RR_Header{Name: owner, Rrtype: rrtype, Class: dns.ClassINET, Ttl: ttl}
}

// appendA appends one A record per packed IPv4 address in v4.
func appendA(out []dns.RR, owner string, v4 []byte, ttl uint32) []dns.RR {
	recs := make([]dns.A, len(v4)/net.IPv4len)
	for i := range recs {
		o := i * net.IPv4len
		recs[i] = dns.A{Hdr: header(owner, dns.TypeA, ttl), A: net.IP(v4[o : o+net.IPv4len : o+net.IPv4len])}
		out = append(out, &recs[i])
	}
	return out
}

// appendAAAA appends one AAAA record per packed IPv6 address in v6.
func appendAAAA(out []dns.RR, owner string, v6 []byte, ttl uint32) []dns.RR {
	recs := make([]dns.AAAA, len(v6)/net.IPv6len)
	for i := range recs {
		o := i * net.IPv6len
		recs[i] = dns.AAAA{Hdr: header(owner, dns.TypeAAAA, ttl), AAAA: net.IP(v6[o : o+net.IPv6len : o+net.IPv6len])}
		out = append(out, &recs[i])
	}
	return out
}

// appendSRV appends the SRV records of set with the given owner, and the targets'
// addresses to extra. base is the service's full name ("<svc>.<ns>.svc.<zone>"),
// which relative targets are completed with.
func appendSRV(out, extra []dns.RR, owner, base string, set *srvSet, ttl uint32) ([]dns.RR, []dns.RR) {
	targets := fullNames(set.recs, base)
	weight := uint16(100 / len(set.recs))
	if weight == 0 {
		weight = 1
	}
	recs := make([]dns.SRV, len(set.recs))
	for i, r := range set.recs {
		recs[i] = dns.SRV{Hdr: header(owner, dns.TypeSRV, ttl), Priority: 0, Weight: weight, Port: r.port, Target: targets[i]}
		out = append(out, &recs[i])
	}
	for _, t := range set.extra {
		extra = appendA(extra, targets[t.rec], t.v4, ttl)
		extra = appendAAAA(extra, targets[t.rec], t.v6, ttl)
	}
	return out, extra
}

// fullNames completes the relative targets of recs with base, in recs order. The names
// share one string, so an SRV answer over a hundred endpoints allocates once for them.
func fullNames(recs []srvRec, base string) []string {
	size := 0
	for _, r := range recs {
		if r.target != "" {
			size += len(r.target) + 1 + len(base)
		}
	}
	var b strings.Builder
	b.Grow(size)
	ends := make([]int, len(recs))
	for i, r := range recs {
		if r.target != "" {
			b.WriteString(r.target)
			b.WriteByte('.')
			b.WriteString(base)
		}
		ends[i] = b.Len()
	}
	all := b.String()
	names := make([]string, len(recs))
	start := 0
	for i, r := range recs {
		if r.target == "" {
			names[i] = base
		} else {
			names[i] = all[start:ends[i]]
		}
		start = ends[i]
	}
	return names
}
