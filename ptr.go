package multicluster

import (
	"context"

	"github.com/coredns/coredns/plugin"
	"github.com/mcs-dns/multicluster/internal/zone"

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
	m.index.EnablePTR()
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
	var owners []zone.PTROwner
	if p, ok := zone.ReversePrefix(lname); ok && !apex {
		if p.IsSingleIP() {
			owners = m.index.LookupPTR(p.Addr().Unmap())
			exists = len(owners) > 0
		} else {
			exists = m.index.HasReverseENT(p)
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
func (m *MultiCluster) ptrRecords(owner string, owners []zone.PTROwner) []dns.RR {
	origin := m.zones[0].origin
	recs := make([]dns.PTR, len(owners))
	out := make([]dns.RR, len(owners))
	for i, o := range owners {
		target := o.Svc.Name + "." + o.Svc.Namespace + ".svc." + origin
		if o.Name != "" {
			target = o.Name + "." + target
		}
		recs[i] = dns.PTR{Hdr: zone.Header(owner, dns.TypePTR, m.ttl), Ptr: target}
		out[i] = &recs[i]
	}
	return out
}

var ptrAnswers = promauto.NewCounter(prometheus.CounterOpts{
	Namespace: plugin.Namespace,
	Subsystem: pluginName,
	Name:      "ptr_answers_total",
	Help:      "PTR answers for imported addresses.",
})
