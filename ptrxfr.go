package multicluster

import (
	"net/netip"
	"slices"

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
	zp, ok := reversePrefix(z.origin)
	if !ok {
		return
	}
	addrs, owners := m.index.reverseIn(zp)
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

// reverseIn returns the addresses of the reverse index in p, sorted, and their owners.
func (x *index) reverseIn(p netip.Prefix) ([]netip.Addr, [][]ptrOwner) {
	x.mu.RLock()
	var addrs []netip.Addr
	for a := range x.rev {
		if p.Contains(a) {
			addrs = append(addrs, a)
		}
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	owners := make([][]ptrOwner, len(addrs))
	for i, a := range addrs {
		owners[i] = x.rev[a]
	}
	x.mu.RUnlock()
	return addrs, owners
}
