// Package multicluster is a CoreDNS plugin that serves Kubernetes Multi-Cluster
// Services DNS (KEP-1645) for clusterset.local from ServiceImports and EndpointSlices.
package multicluster

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/dnsutil"
	"github.com/coredns/coredns/plugin/pkg/fall"
	"github.com/coredns/coredns/request"
	"github.com/mcs-dns/multicluster/internal/object"
	"github.com/mcs-dns/multicluster/internal/zone"

	"github.com/miekg/dns"
)

const pluginName = "multicluster"

// dnsSchemaVersion is the MCS DNS specification version (KEP-1645 §2.2).
const dnsSchemaVersion = "1.0.0"

// MultiCluster is the plugin. Its answers come from an index that the controller
// keeps up to date; ServeDNS only reads it.
type MultiCluster struct {
	Next  plugin.Handler
	Zones []string
	Fall  fall.F

	ttl            uint32
	startupTimeout time.Duration
	// nsV4 and nsV6 are the packed addresses of the NS target "ns.dns.<zone>" (spec
	// R10): the addresses this server is reachable on (ns_address, else discovered).
	nsAddrs     []netip.Addr
	nsV4, nsV6  []byte
	kubeconfig  string
	kubecontext string
	imports     object.ImportOptions

	index  *zone.Index
	ctrl   *controller
	gauges *gauges
	// loc is the local cluster and the locality options (locality.go).
	loc *locality
	// notifier sends NOTIFY when the serial moves (notify.go), from one of listen,
	// the server block's bind addresses (notifysend.go).
	notifier *notifier
	listen   []string
	// rev are the reverse zones PTRs are served for (ptr.go).
	rev []zoneNames
	// zones holds per-zone names that answers reuse, in the order of Zones.
	zones []zoneNames
}

// zoneNames are the fixed names of one zone, computed once.
type zoneNames struct {
	origin string // "clusterset.local."
	ns     string // "ns.dns.clusterset.local."
	mbox   string // "hostmaster.clusterset.local."
}

// New returns a plugin for zones with default settings and an empty index.
func New(zones []string) *MultiCluster { return newPlugin(zones, zone.NewIndex(time.Now)) }

// newPlugin is New over the empty index x.
func newPlugin(zones []string, x *zone.Index) *MultiCluster {
	m := &MultiCluster{ttl: defaultTTL, startupTimeout: defaultStartupTimeout, index: x, loc: newLocality("", false)}
	m.setZones(zones)
	return m
}

func (m *MultiCluster) setZones(zones []string) {
	m.Zones = make([]string, len(zones))
	m.zones = make([]zoneNames, len(zones))
	for i, z := range zones {
		z = strings.ToLower(dns.Fqdn(z))
		m.Zones[i] = z
		m.zones[i] = zoneNames{origin: z, ns: dnsutil.Join("ns.dns", z), mbox: dnsutil.Join("hostmaster", z)}
	}
	m.splitReverse()
}

// Name implements plugin.Handler.
func (m *MultiCluster) Name() string { return pluginName }

// ServeDNS implements plugin.Handler.
func (m *MultiCluster) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	state := request.Request{W: w, Req: r}
	qname := state.QName()
	// Names compare case-insensitively; answers keep the query's spelling (0x20).
	lname := strings.ToLower(qname)
	zi := m.matchZone(lname)
	if state.QClass() != dns.ClassINET {
		// Other classes (CHAOS version.bind and the like): not ours.
		return plugin.NextOrFailure(m.Name(), m.Next, ctx, w, r)
	}
	qtype := state.QType()
	if zi < 0 {
		if ri := m.matchReverse(lname); ri >= 0 {
			return m.servePTR(ctx, w, r, qname, lname, qtype, ri)
		}
		return plugin.NextOrFailure(m.Name(), m.Next, ctx, w, r)
	}
	if qtype == dns.TypeAXFR || qtype == dns.TypeIXFR {
		// Zone transfers are served by the transfer plugin through Transfer().
		return dns.RcodeRefused, nil
	}
	z := &m.zones[zi]
	var res resolution
	if strings.IndexByte(lname, '\\') < 0 {
		res = m.resolve(lname[:len(lname)-len(z.origin)], lname)
	}
	// else: an escaped character (such as "x\\.svc") is part of a label, and no label
	// of this zone has one: the name does not exist.

	msg := new(dns.Msg)
	msg.SetReply(r)
	msg.Authoritative = true
	switch {
	case res.version:
		if qtype == dns.TypeTXT || qtype == dns.TypeANY {
			msg.Answer = []dns.RR{&dns.TXT{Hdr: zone.Header(qname, dns.TypeTXT, m.ttl), Txt: []string{dnsSchemaVersion}}}
		}
	case res.apex:
		msg.Answer = m.apexRecords(z, qname, qtype)
	case res.exists:
		msg.Answer, msg.Extra = m.answer(res, qname, qtype, true)
		if len(msg.Answer) > 0 && res.holdsLocal(qtype) {
			localityAnswers.Inc()
		}
	default:
		if done, rcode, err := m.missing(ctx, w, r, qname); done {
			return rcode, err
		}
		msg.Rcode = dns.RcodeNameError
	}
	return m.reply(w, msg, z)
}

// missing handles a name that does not exist (RFC 2308 §2.1) before it is answered
// NXDOMAIN: done is true when the next plugin answered it (fallthrough) or when it is
// SERVFAIL because the watches have not synced (spec section 3: until then an NXDOMAIN
// may be false).
func (m *MultiCluster) missing(ctx context.Context, w dns.ResponseWriter, r *dns.Msg, qname string) (done bool, rcode int, err error) {
	if m.Fall.Through(qname) {
		rcode, err = plugin.NextOrFailure(m.Name(), m.Next, ctx, w, r)
		return true, rcode, err
	}
	if !m.synced() {
		return true, dns.RcodeServerFailure, nil
	}
	return false, 0, nil
}

// reply writes msg, an answer of zone z: an empty answer (NXDOMAIN or NODATA) carries
// the SOA, whose TTL bounds caching (RFC 2308 §3).
func (m *MultiCluster) reply(w dns.ResponseWriter, msg *dns.Msg, z *zoneNames) (int, error) {
	if len(msg.Answer) == 0 {
		msg.Ns = []dns.RR{m.soa(z, false)}
	}
	if err := w.WriteMsg(msg); err != nil {
		// A reply that cannot be packed or sent: say so to the server, which answers
		// SERVFAIL and logs it (errors plugin), rather than leave the client to time out.
		return dns.RcodeServerFailure, plugin.Error(pluginName, err)
	}
	return dns.RcodeSuccess, nil
}

// matchZone returns the index of the longest zone that contains lname (a lower-case
// FQDN), or -1. A plain suffix test on label boundaries: no allocation.
func (m *MultiCluster) matchZone(lname string) int {
	best := -1
	for i, z := range m.Zones {
		if !strings.HasSuffix(lname, z) {
			continue
		}
		if n := len(lname) - len(z); n > 0 && (lname[n-1] != '.' || escaped(lname, n-1)) && z != "." {
			continue
		}
		if best < 0 || len(z) > len(m.Zones[best]) {
			best = i
		}
	}
	return best
}

// escaped reports whether the byte at i of name is escaped by a backslash (an odd
// number of backslashes before it, RFC 4343 §2.1): "x\\.clusterset.local." is one
// label "x.clusterset" under "local.", not a name in clusterset.local.
func escaped(name string, i int) bool {
	n := 0
	for i--; i >= 0 && name[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// resolution is where a query name lands.
type resolution struct {
	apex    bool
	version bool
	// exists is false for names that do not exist (NXDOMAIN).
	exists bool
	// v4, v6 and srv are the name's data; all empty for names without data.
	v4, v6 []byte
	srv    *zone.SRVSet
	// recs and base ("<svc>.<ns>.svc.<zone>", lower case) complete SRV targets.
	recs *zone.Records
	base string
	// narrowed: the addresses are the local cluster's subset (locality.go); an SRV
	// set says so itself.
	narrowed bool
}

// resolve finds rel, the lower-case query name without the zone ("" for the apex,
// else ending in "."), in the index. lname is the whole lower-case query name.
func (m *MultiCluster) resolve(rel, lname string) resolution {
	switch rel {
	case "":
		return resolution{apex: true, exists: true}
	case "dns-version.":
		return resolution{version: true, exists: true}
	case "ns.dns.":
		// The NS target's addresses (spec R10): without them the zone is not a valid
		// zone (named-checkzone: "NS has no address records").
		return resolution{exists: true, v4: m.nsV4, v6: m.nsV6}
	case "dns.", "svc.":
		// svc.<zone> always exists; dns.<zone> is the NS target's parent.
		return resolution{exists: true}
	}
	rest, ok := strings.CutSuffix(rel, ".svc.")
	if !ok {
		// pod.<zone> and anything not under svc.<zone> does not exist (spec section 3).
		return resolution{}
	}
	i := strings.LastIndexByte(rest, '.')
	ns := rest[i+1:]
	if i < 0 {
		return resolution{exists: m.index.HasNamespace(ns)}
	}
	rest = rest[:i]
	j := strings.LastIndexByte(rest, '.')
	svc, prefix := rest[j+1:], ""
	if j >= 0 {
		prefix = rest[:j]
	}
	r := m.index.Lookup(ns, svc)
	if r == nil || !r.Exists {
		return resolution{}
	}
	res := resolution{recs: r, base: lname}
	if prefix != "" {
		res.base = lname[len(prefix)+1:]
	}
	switch {
	case prefix == "":
		res.exists, res.v4, res.v6, res.srv, res.narrowed = true, r.V4, r.V6, r.SRV, r.Narrowed
	case prefix[0] == '_':
		if set := r.LookupPort(prefix); set != nil {
			res.exists, res.srv = true, set
		} else {
			res.exists = r.IsENT(prefix)
		}
	default:
		host, cluster, _ := strings.Cut(prefix, ".")
		if n, ok := r.LookupName(host, cluster); ok {
			res.exists = true
			res.v4, res.v6 = r.NameAddrs(n)
		} else {
			res.exists = r.IsENT(prefix)
		}
	}
	return res
}

// answer returns the records of res for qtype; both empty means NODATA. The
// additional section carries SRV targets' addresses (spec R3, R7).
func (m *MultiCluster) answer(res resolution, qname string, qtype uint16, withExtra bool) (ans, extra []dns.RR) {
	if (qtype == dns.TypeA || qtype == dns.TypeANY) && len(res.v4) > 0 {
		ans = zone.AppendA(ans, qname, res.v4, m.ttl)
	}
	if (qtype == dns.TypeAAAA || qtype == dns.TypeANY) && len(res.v6) > 0 {
		ans = zone.AppendAAAA(ans, qname, res.v6, m.ttl)
	}
	if (qtype == dns.TypeSRV || qtype == dns.TypeANY) && res.srv != nil {
		// ANY already carries the service name's addresses in the answer: do not
		// repeat a ClusterSetIP service's VIPs as SRV-target additionals.
		withExtra = withExtra && !(qtype == dns.TypeANY && res.srv.OnlyService())
		ans, extra = zone.AppendSRV(ans, extra, qname, res.base, res.recs, res.srv, m.ttl, withExtra)
	}
	return ans, extra
}

// soa is the zone's SOA record (spec R10); its minimum is the TTL of negative answers.
// observe says whether the serial versions what the client gets (SOA queries, zone
// transfers) rather than only bounding a negative answer's lifetime; see zoneSerial.
func (m *MultiCluster) soa(z *zoneNames, observe bool) *dns.SOA {
	serial := m.index.Serial().Peek()
	if observe {
		serial = m.index.Serial().Observe()
	}
	return &dns.SOA{
		Hdr:     zone.Header(z.origin, dns.TypeSOA, m.ttl),
		Ns:      z.ns,
		Mbox:    z.mbox,
		Serial:  serial,
		Refresh: 7200,
		Retry:   1800,
		Expire:  86400,
		Minttl:  m.ttl,
	}
}

// apexRecords are the answer at a zone's apex: its SOA and NS (spec R10; RFC 1034
// §4.2.1: every zone has both at its apex), NODATA for other types.
func (m *MultiCluster) apexRecords(z *zoneNames, qname string, qtype uint16) []dns.RR {
	var out []dns.RR
	if qtype == dns.TypeSOA || qtype == dns.TypeANY {
		soa := m.soa(z, true)
		soa.Hdr.Name = qname
		out = append(out, soa)
	}
	if qtype == dns.TypeNS || qtype == dns.TypeANY {
		out = append(out, &dns.NS{Hdr: zone.Header(qname, dns.TypeNS, m.ttl), Ns: z.ns})
	}
	return out
}

// synced reports whether the watches have synced, so that a missing name really is
// missing.
func (m *MultiCluster) synced() bool { return m.ctrl != nil && m.ctrl.synced() }
