package zone

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	"github.com/mcs-dns/multicluster/internal/object"
)

// The reverse index: which names each served address answers PTR queries with. It is
// kept in the same publish as the forward records, so the two agree.

// PTROwner is a name an address belongs to: the service name when name is "", else the
// per-endpoint name "<hostname>.<clusterid>" of the service.
type PTROwner struct {
	Svc  object.ServiceKey
	Name string
}

func comparePTROwner(a, b PTROwner) int {
	return cmp.Or(strings.Compare(a.Svc.Namespace, b.Svc.Namespace), strings.Compare(a.Svc.Name, b.Svc.Name), strings.Compare(a.Name, b.Name))
}

// EnablePTR starts keeping the reverse index; publish fills it from then on.
func (x *Index) EnablePTR() {
	x.mu.Lock()
	if x.rev == nil {
		x.rev = map[netip.Addr][]PTROwner{}
		x.revENT = map[netip.Prefix]int32{}
	}
	x.mu.Unlock()
}

// ReverseSize returns how many addresses the reverse index holds and how many of their
// prefixes exist as empty non-terminals; 0 and 0 while PTR is not enabled.
func (x *Index) ReverseSize() (addrs, prefixes int) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.rev), len(x.revENT)
}

// LookupPTR returns the owners of addr, sorted. The slice is never modified after it
// is stored (reindexPTR replaces it), so callers may keep it.
func (x *Index) LookupPTR(addr netip.Addr) []PTROwner {
	x.mu.RLock()
	o := x.rev[addr]
	x.mu.RUnlock()
	return o
}

// reindexPTR replaces the reverse entries of service k, from old to r (either may be
// nil). The caller holds x.mu for writing.
func (x *Index) reindexPTR(k object.ServiceKey, old, r *Records) {
	if x.rev == nil {
		return
	}
	old.EachAddr(func(name string, a netip.Addr) {
		owners, ok := x.rev[a]
		if !ok {
			return // another name of the service had this address
		}
		kept := make([]PTROwner, 0, len(owners))
		for _, o := range owners {
			if o.Svc != k {
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
	r.EachAddr(func(name string, a netip.Addr) {
		o := PTROwner{Svc: k, Name: name}
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

// EachAddr calls f for every address a PTR answers with a name of r: the VIPs of a
// ClusterSetIP service (name ""), the addresses of each per-endpoint name.
func (r *Records) EachAddr(f func(name string, a netip.Addr)) {
	if r == nil || !r.Exists {
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
	if !r.Headless {
		each("", r.V4, r.V6)
		return
	}
	for _, n := range r.Names {
		v4, v6 := r.NameAddrs(n)
		each(n.Host+"."+n.Cluster, v4, v6)
	}
}

// ReverseIn returns the addresses of the reverse index in p, sorted, and their owners.
func (x *Index) ReverseIn(p netip.Prefix) ([]netip.Addr, [][]PTROwner) {
	x.mu.RLock()
	var addrs []netip.Addr
	for a := range x.rev {
		if p.Contains(a) {
			addrs = append(addrs, a)
		}
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	owners := make([][]PTROwner, len(addrs))
	for i, a := range addrs {
		owners[i] = x.rev[a]
	}
	x.mu.RUnlock()
	return addrs, owners
}
