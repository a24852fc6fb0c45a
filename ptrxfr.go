package multicluster

import (
	"github.com/mcs-dns/multicluster/internal/zone"
	"github.com/miekg/dns"
)

// Zone transfers of the reverse zones among the plugin's zones (the transfer plugin
// asks for a zone by name when its stanza covers it): SOA, the apex NS, and the PTRs
// of every address in the zone, from the same reverse index as PTR queries, so the
// two agree. The NS target lives in the forward zone, so no glue is needed.

// reverseZone returns the index in m.rev of reverse zone z (canonical), or -1.
func (m *MultiCluster) reverseZone(z string) int {
	for i := range m.rev {
		if m.rev[i].origin == z {
			return i
		}
	}
	return -1
}

// reverseRecords emits the PTR records of every address in zone z, by address.
func (m *MultiCluster) reverseRecords(z *zoneNames, emit func(dns.RR)) {
	zp, ok := zone.ReversePrefix(z.origin)
	if !ok {
		return
	}
	addrs, owners := m.index.ReverseIn(zp)
	for i, a := range addrs {
		name, err := dns.ReverseAddr(a.String())
		if err != nil {
			continue
		}
		for _, rr := range m.ptrRecords(name, owners[i]) {
			emit(rr)
		}
	}
}
