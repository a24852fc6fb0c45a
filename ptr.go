package multicluster

import (
	"cmp"
	"context"
	"net/netip"
	"slices"
	"strings"

	"github.com/coredns/coredns/plugin"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// PTR records are opt-in: they are served for the reverse zones among the plugin's
// zones (in-addr.arpa., ip6.arpa., or narrower zones such as those CoreDNS makes of a
// CIDR server block). KEP-1645 does not require them (§2.3.3) and they must never
// override cluster.local's: the kubernetes plugin, earlier in the chain, answers first
// and passes on only what it does not have (its "fallthrough in-addr.arpa ip6.arpa").
//
// A ClusterSetIP VIP answers "<svc>.<ns>.svc.<zone>"; a headless endpoint address
// answers each per-endpoint name it has, "<hostname>.<clusterid>.<svc>.<ns>.svc.<zone>";
// an address several names share answers all of them (RFC 2181 §10.2 allows several
// PTRs). <zone> is the plugin's first forward zone. The reverse index is built from
// the same records as forward answers, in the same publish, so the two agree.

// isReverse reports whether a zone (lower-case FQDN) is a reverse zone.
func isReverse(z string) bool {
	return dns.IsSubDomain("in-addr.arpa.", z) || dns.IsSubDomain("ip6.arpa.", z)
}

// splitReverse moves the reverse zones out of m.Zones into m.rev. Their SOA names the
// first forward zone's name server and mailbox.
func (m *MultiCluster) splitReverse() {
	var fwd []string
	var fz []zoneNames
	var rev []zoneNames
	for i, z := range m.Zones {
		if isReverse(z) {
			rev = append(rev, m.zones[i])
			continue
		}
		fwd = append(fwd, z)
		fz = append(fz, m.zones[i])
	}
	if len(rev) == 0 {
		return
	}
	m.Zones, m.zones, m.rev = fwd, fz, rev
	if len(fz) > 0 {
		for i := range m.rev {
			m.rev[i].ns, m.rev[i].mbox = fz[0].ns, fz[0].mbox
		}
	}
	m.index.enablePTR()
}

// matchReverse returns the index in m.rev of the longest reverse zone containing
// lname, or -1.
func (m *MultiCluster) matchReverse(lname string) int {
	best := -1
	for i := range m.rev {
		if dns.IsSubDomain(m.rev[i].origin, lname) && (best < 0 || len(m.rev[i].origin) > len(m.rev[best].origin)) {
			best = i
		}
	}
	return best
}

// servePTR answers a query in reverse zone m.rev[ri]: SOA and NS at its apex (RFC
// 1034 §4.2.1), PTRs at the addresses it has, and NODATA at the names between them,
// which exist (RFC 8020).
func (m *MultiCluster) servePTR(ctx context.Context, w dns.ResponseWriter, r *dns.Msg, qname, lname string, qtype uint16, ri int) (int, error) {
	if qtype == dns.TypeAXFR || qtype == dns.TypeIXFR {
		// Zone transfers are served by the transfer plugin through Transfer().
		return dns.RcodeRefused, nil
	}
	z := &m.rev[ri]
	apex := lname == z.origin
	exists := apex
	var owners []ptrOwner
	if p, ok := reversePrefix(lname); ok && !apex {
		if p.IsSingleIP() {
			owners = m.index.lookupPTR(p.Addr().Unmap())
			exists = len(owners) > 0
		} else {
			exists = m.index.hasReverseENT(p)
		}
	}
	if !exists {
		if done, rcode, err := m.missing(ctx, w, r, qname); done {
			return rcode, err
		}
	}
	msg := new(dns.Msg)
	msg.SetReply(r)
	msg.Authoritative = true
	switch {
	case apex:
		msg.Answer = m.apexRecords(z, qname, qtype)
	case len(owners) > 0 && (qtype == dns.TypePTR || qtype == dns.TypeANY):
		msg.Answer = m.ptrRecords(qname, owners)
		ptrAnswers.Inc()
	case !exists:
		msg.Rcode = dns.RcodeNameError
	}
	return m.reply(w, msg, z)
}

// ptrRecords are the PTR records of owner, an address whose names are owners.
func (m *MultiCluster) ptrRecords(owner string, owners []ptrOwner) []dns.RR {
	origin := m.zones[0].origin
	recs := make([]dns.PTR, len(owners))
	out := make([]dns.RR, len(owners))
	for i, o := range owners {
		target := o.svc.name + "." + o.svc.namespace + ".svc." + origin
		if o.name != "" {
			target = o.name + "." + target
		}
		recs[i] = dns.PTR{Hdr: header(owner, dns.TypePTR, m.ttl), Ptr: target}
		out[i] = &recs[i]
	}
	return out
}

// ptrOwner is a name an address belongs to: the service name when name is "", else the
// per-endpoint name "<hostname>.<clusterid>" of the service.
type ptrOwner struct {
	svc  serviceKey
	name string
}

func comparePTROwner(a, b ptrOwner) int {
	return cmp.Or(strings.Compare(a.svc.namespace, b.svc.namespace), strings.Compare(a.svc.name, b.svc.name), strings.Compare(a.name, b.name))
}

func (x *index) enablePTR() {
	x.mu.Lock()
	if x.rev == nil {
		x.rev = map[netip.Addr][]ptrOwner{}
		x.revENT = map[netip.Prefix]int32{}
	}
	x.mu.Unlock()
}

// lookupPTR returns the owners of addr, sorted. The slice is never modified after it
// is stored (reindexPTR replaces it), so callers may keep it.
func (x *index) lookupPTR(addr netip.Addr) []ptrOwner {
	x.mu.RLock()
	o := x.rev[addr]
	x.mu.RUnlock()
	return o
}

// reindexPTR replaces the reverse entries of service k, from old to r (either may be
// nil). The caller holds x.mu for writing.
func (x *index) reindexPTR(k serviceKey, old, r *records) {
	if x.rev == nil {
		return
	}
	old.eachAddr(func(name string, a netip.Addr) {
		owners, ok := x.rev[a]
		if !ok {
			return // another name of the service had this address
		}
		kept := make([]ptrOwner, 0, len(owners))
		for _, o := range owners {
			if o.svc != k {
				kept = append(kept, o)
			}
		}
		if len(kept) == 0 {
			delete(x.rev, a)
			x.dropReverseENTs(a)
		} else {
			x.rev[a] = kept
		}
	})
	r.eachAddr(func(name string, a netip.Addr) {
		o := ptrOwner{svc: k, name: name}
		owners, had := x.rev[a]
		if slices.Contains(owners, o) {
			return
		}
		if !had {
			x.addReverseENTs(a)
		}
		next := append(slices.Clip(owners), o)
		slices.SortFunc(next, comparePTROwner)
		x.rev[a] = next
	})
}

// eachAddr calls f for every address a PTR answers with a name of r: the VIPs of a
// ClusterSetIP service (name ""), the addresses of each per-endpoint name.
func (r *records) eachAddr(f func(name string, a netip.Addr)) {
	if r == nil || !r.exists {
		return
	}
	each := func(name string, v4, v6 []byte) {
		for o := 0; o+4 <= len(v4); o += 4 {
			f(name, netip.AddrFrom4([4]byte(v4[o:o+4])))
		}
		for o := 0; o+16 <= len(v6); o += 16 {
			f(name, netip.AddrFrom16([16]byte(v6[o:o+16])))
		}
	}
	if !r.headless {
		each("", r.v4, r.v6)
		return
	}
	for _, n := range r.names {
		v4, v6 := r.nameAddrs(n)
		each(n.host+"."+n.cluster, v4, v6)
	}
}

var ptrAnswers = promauto.NewCounter(prometheus.CounterOpts{
	Namespace: plugin.Namespace,
	Subsystem: pluginName,
	Name:      "ptr_answers_total",
	Help:      "PTR answers for imported addresses.",
})
