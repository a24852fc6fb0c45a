package zone

import "net/netip"

// The names between a reverse zone's apex and the addresses it has PTRs for, such as
// 0.42.10.in-addr.arpa. above 1.0.42.10.in-addr.arpa., exist without data: RFC 8020
// says an NXDOMAIN means nothing exists below, and resolvers that follow it would
// deny the PTRs (the forward zone's empty non-terminals follow the same rule, spec
// R9). They are counted per prefix when an address enters or leaves the reverse
// index, in the same publish, so a query is a map lookup. Cost: one entry per prefix
// that holds an address, shared by the addresses below it (IPv4: at most three per
// address, /8 to /24; IPv6: at most 31, fewer where addresses share prefixes).

// addReverseENTs counts a new address of the reverse index. The caller holds x.mu.
func (x *Index) addReverseENTs(a netip.Addr) {
	reverseAncestors(a, func(p netip.Prefix) { x.revENT[p]++ })
}

// dropReverseENTs uncounts an address that left the reverse index. The caller holds
// x.mu.
func (x *Index) dropReverseENTs(a netip.Addr) {
	reverseAncestors(a, func(p netip.Prefix) {
		if x.revENT[p]--; x.revENT[p] <= 0 {
			delete(x.revENT, p)
		}
	})
}

// HasReverseENT reports whether some address with a PTR lies in p.
func (x *Index) HasReverseENT(p netip.Prefix) bool {
	x.mu.RLock()
	n := x.revENT[p]
	x.mu.RUnlock()
	return n > 0
}
