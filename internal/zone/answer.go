package zone

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

// Header is the header of a record of the given owner, type and TTL, class IN.
func Header(owner string, rrtype uint16, ttl uint32) dns.RR_Header {
	return dns.RR_Header{Name: owner, Rrtype: rrtype, Class: dns.ClassINET, Ttl: ttl}
}

// AppendA appends one A record per packed IPv4 address in v4.
func AppendA(out []dns.RR, owner string, v4 []byte, ttl uint32) []dns.RR {
	recs := make([]dns.A, len(v4)/net.IPv4len)
	out = slices.Grow(out, len(recs))
	for i := range recs {
		o := i * net.IPv4len
		recs[i] = dns.A{Hdr: Header(owner, dns.TypeA, ttl), A: net.IP(v4[o : o+net.IPv4len : o+net.IPv4len])}
		out = append(out, &recs[i])
	}
	return out
}

// AppendAAAA appends one AAAA record per packed IPv6 address in v6.
func AppendAAAA(out []dns.RR, owner string, v6 []byte, ttl uint32) []dns.RR {
	recs := make([]dns.AAAA, len(v6)/net.IPv6len)
	out = slices.Grow(out, len(recs))
	for i := range recs {
		o := i * net.IPv6len
		recs[i] = dns.AAAA{Hdr: Header(owner, dns.TypeAAAA, ttl), AAAA: net.IP(v6[o : o+net.IPv6len : o+net.IPv6len])}
		out = append(out, &recs[i])
	}
	return out
}

// AppendSRV appends the SRV records of set with the given owner, and, when extra is
// wanted, the targets' addresses to extra (spec R3, R7). base is the service's full
// name ("<svc>.<ns>.svc.<zone>"), which targets are completed with.
func AppendSRV(out, extra []dns.RR, owner, base string, r *Records, set *SRVSet, ttl uint32, withExtra bool) ([]dns.RR, []dns.RR) {
	targets := targetNames(r, set, base)
	weight := uint16(100 / len(set.recs))
	if weight == 0 {
		weight = 1
	}
	recs := make([]dns.SRV, len(set.recs))
	out = slices.Grow(out, len(recs))
	for i, rec := range set.recs {
		recs[i] = dns.SRV{Hdr: Header(owner, dns.TypeSRV, ttl), Priority: 0, Weight: weight, Port: rec.port, Target: targets[i]}
		out = append(out, &recs[i])
	}
	if !withExtra {
		return out, extra
	}
	// Records of one target are adjacent (srvSet order): add each target's addresses
	// once, in one backing array per family.
	n4, n6 := 0, 0
	for i, rec := range set.recs {
		if i == 0 || rec.target != set.recs[i-1].target {
			v4, v6 := r.targetAddrs(rec.target)
			n4 += len(v4) / net.IPv4len
			n6 += len(v6) / net.IPv6len
		}
	}
	a := make([]dns.A, 0, n4)
	aaaa := make([]dns.AAAA, 0, n6)
	extra = slices.Grow(extra, n4+n6)
	for i, rec := range set.recs {
		if i > 0 && rec.target == set.recs[i-1].target {
			continue
		}
		v4, v6 := r.targetAddrs(rec.target)
		for o := 0; o < len(v4); o += net.IPv4len {
			a = append(a, dns.A{Hdr: Header(targets[i], dns.TypeA, ttl), A: net.IP(v4[o : o+net.IPv4len : o+net.IPv4len])})
			extra = append(extra, &a[len(a)-1])
		}
		for o := 0; o < len(v6); o += net.IPv6len {
			aaaa = append(aaaa, dns.AAAA{Hdr: Header(targets[i], dns.TypeAAAA, ttl), AAAA: net.IP(v6[o : o+net.IPv6len : o+net.IPv6len])})
			extra = append(extra, &aaaa[len(aaaa)-1])
		}
	}
	return out, extra
}

// targetNames returns the full target name of every record of set, in order. The
// names share one string, so an SRV answer over a hundred endpoints allocates once
// for them.
func targetNames(r *Records, set *SRVSet, base string) []string {
	size := 0
	for i, rec := range set.recs {
		if rec.target != serviceTarget && (i == 0 || rec.target != set.recs[i-1].target) {
			n := r.Names[rec.target]
			size += len(n.Host) + 1 + len(n.Cluster) + 1 + len(base)
		}
	}
	var b strings.Builder
	b.Grow(size)
	ends := make([]int, len(set.recs))
	for i, rec := range set.recs {
		if rec.target != serviceTarget && (i == 0 || rec.target != set.recs[i-1].target) {
			n := r.Names[rec.target]
			b.WriteString(n.Host)
			b.WriteByte('.')
			b.WriteString(n.Cluster)
			b.WriteByte('.')
			b.WriteString(base)
		}
		ends[i] = b.Len()
	}
	all := b.String()
	names := make([]string, len(set.recs))
	start := 0
	for i, rec := range set.recs {
		switch {
		case rec.target == serviceTarget:
			names[i] = base
		case i > 0 && rec.target == set.recs[i-1].target:
			names[i] = names[i-1]
		default:
			names[i] = all[start:ends[i]]
		}
		start = ends[i]
	}
	return names
}
