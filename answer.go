package multicluster

import (
	"net"
	"slices"
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
	out = slices.Grow(out, len(recs))
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
	out = slices.Grow(out, len(recs))
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
	out = slices.Grow(out, len(recs))
	for i, r := range set.recs {
		recs[i] = dns.SRV{Hdr: header(owner, dns.TypeSRV, ttl), Priority: 0, Weight: weight, Port: r.port, Target: targets[i]}
		out = append(out, &recs[i])
	}
	// One backing array per family for all targets' addresses.
	n4, n6 := 0, 0
	for _, t := range set.extra {
		n4 += len(t.v4) / net.IPv4len
		n6 += len(t.v6) / net.IPv6len
	}
	a := make([]dns.A, 0, n4)
	aaaa := make([]dns.AAAA, 0, n6)
	extra = slices.Grow(extra, n4+n6)
	for _, t := range set.extra {
		for o := 0; o < len(t.v4); o += net.IPv4len {
			a = append(a, dns.A{Hdr: header(targets[t.rec], dns.TypeA, ttl), A: net.IP(t.v4[o : o+net.IPv4len : o+net.IPv4len])})
			extra = append(extra, &a[len(a)-1])
		}
		for o := 0; o < len(t.v6); o += net.IPv6len {
			aaaa = append(aaaa, dns.AAAA{Hdr: header(targets[t.rec], dns.TypeAAAA, ttl), AAAA: net.IP(t.v6[o : o+net.IPv6len : o+net.IPv6len])})
			extra = append(extra, &aaaa[len(aaaa)-1])
		}
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
