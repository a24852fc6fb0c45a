package multicluster

import (
	"errors"

	"github.com/coredns/coredns/plugin/pkg/dnsutil"
	"github.com/coredns/coredns/plugin/transfer"
	"github.com/mcs-dns/multicluster/internal/zone"

	"github.com/miekg/dns"
)

var errNotSynced = errors.New("watches not synced: refusing to transfer a partial zone")

// xfrBatch is the number of records per message of a transfer.
const xfrBatch = 500

// Transfer implements transfer.Transferer (spec R11), for the forward zones and the
// reverse zones (ptrxfr.go). Records come from the same prepared records as query
// answers, so owner names (cluster ids included) are identical; services, names and
// addresses are sorted, so two transfers of one serial are equal.
func (m *MultiCluster) Transfer(name string, serial uint32) (<-chan []dns.RR, error) {
	name = dns.CanonicalName(name)
	var z *zoneNames
	body := m.forwardRecords
	for i := range m.Zones {
		if m.Zones[i] == name {
			z = &m.zones[i]
		}
	}
	if ri := m.reverseZone(name); z == nil && ri >= 0 {
		z, body = &m.rev[ri], m.reverseRecords
	}
	if z == nil {
		return nil, transfer.ErrNotAuthoritative
	}
	if !m.synced() {
		return nil, errNotSynced
	}
	soa := m.soa(z, true)
	ch := make(chan []dns.RR)
	// IXFR with a serial at or after ours (RFC 1982 arithmetic): nothing changed, send
	// the SOA alone (RFC 1995 §2).
	if serial != 0 && int32(serial-soa.Serial) >= 0 {
		go func() {
			ch <- []dns.RR{soa}
			close(ch)
		}()
		return ch, nil
	}
	go func() {
		defer close(ch)
		batch := []dns.RR{soa, &dns.NS{Hdr: zone.Header(z.origin, dns.TypeNS, m.ttl), Ns: z.ns}}
		body(z, func(rr dns.RR) {
			batch = append(batch, rr)
			if len(batch) >= xfrBatch {
				ch <- batch
				batch = nil
			}
		})
		ch <- append(batch, soa)
	}()
	return ch, nil
}

// forwardRecords emits every record of forward zone z after its SOA and NS: the
// schema version, the NS target's addresses, then each service's records.
func (m *MultiCluster) forwardRecords(z *zoneNames, emit func(dns.RR)) {
	keys, recs := m.index.Snapshot()
	emit(&dns.TXT{Hdr: zone.Header(dnsutil.Join("dns-version", z.origin), dns.TypeTXT, m.ttl), Txt: []string{dnsSchemaVersion}})
	// The NS target's addresses: a zone whose in-zone NS has none is not a valid
	// zone (RFC 1035 §4.2.1 glue; named-checkzone refuses it).
	ns, _ := m.answer(resolution{exists: true, v4: m.nsV4, v6: m.nsV6}, z.ns, dns.TypeANY, false)
	for _, rr := range ns {
		emit(rr)
	}
	for i, k := range keys {
		base := dnsutil.Join(k.Name, k.Namespace, "svc", z.origin)
		for _, rr := range m.serviceRecords(recs[i], base) {
			emit(rr)
		}
	}
}

// serviceRecords lists every record of a service in a stable order: the service name,
// its named-port SRV names, then the per-endpoint names. Additional-section data is not
// part of a zone.
func (m *MultiCluster) serviceRecords(r *zone.Records, base string) []dns.RR {
	if !r.Exists {
		return nil
	}
	out, _ := m.answer(resolution{exists: true, v4: r.V4, v6: r.V6, srv: r.SRV, recs: r, base: base}, base, dns.TypeANY, false)
	for _, p := range r.Ports {
		ans, _ := m.answer(resolution{exists: true, srv: p.Set, recs: r, base: base}, p.Name+"."+base, dns.TypeANY, false)
		out = append(out, ans...)
	}
	for _, n := range r.Names {
		v4, v6 := r.NameAddrs(n)
		ans, _ := m.answer(resolution{exists: true, v4: v4, v6: v6}, n.Host+"."+n.Cluster+"."+base, dns.TypeANY, false)
		out = append(out, ans...)
	}
	return out
}
