package multicluster

import (
	"errors"

	"github.com/coredns/coredns/plugin/transfer"

	"github.com/miekg/dns"
)

var errNotSynced = errors.New("watches not synced: refusing to transfer a partial zone")

// xfrBatch is the number of records per message of a transfer.
const xfrBatch = 500

// Transfer implements transfer.Transferer (spec R11). Records come from the same
// prepared records as query answers, so owner names (cluster ids included) are
// identical; services and names are sorted, so two transfers of one serial are equal.
func (m *MultiCluster) Transfer(zone string, serial uint32) (<-chan []dns.RR, error) {
	zi := -1
	for i, z := range m.Zones {
		if dns.CanonicalName(zone) == z {
			zi = i
		}
	}
	if zi < 0 {
		return nil, transfer.ErrNotAuthoritative
	}
	if !m.synced() {
		return nil, errNotSynced
	}
	z := &m.zones[zi]
	soa := m.soa(z)
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
	keys, recs := m.index.snapshot()
	go func() {
		defer close(ch)
		batch := []dns.RR{
			soa,
			&dns.NS{Hdr: header(z.origin, dns.TypeNS, m.ttl), Ns: z.ns},
			&dns.TXT{Hdr: header("dns-version."+z.origin, dns.TypeTXT, m.ttl), Txt: []string{dnsSchemaVersion}},
		}
		for i, k := range keys {
			base := k.name + "." + k.namespace + ".svc." + z.origin
			r := recs[i]
			for _, name := range r.sortedNames() {
				owner := base
				if name != "" {
					owner = name + "." + base
				}
				// Additional-section data is not part of a zone: only the answers.
				ans, _ := m.answer(resolution{node: r.names[name], base: base}, owner, dns.TypeANY)
				batch = append(batch, ans...)
				if len(batch) >= xfrBatch {
					ch <- batch
					batch = nil
				}
			}
		}
		ch <- append(batch, soa)
	}()
	return ch, nil
}
