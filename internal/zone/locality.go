package zone

import (
	"net/netip"
	"slices"
)

// ClusterAddr is an address served for a service name and the cluster it comes from
// ("" when unknown). Headless endpoints and per-cluster VIPs are both lists of these.
type ClusterAddr struct {
	Cluster string
	Addr    netip.Addr
}

// LocalSubset returns the distinct addresses of cluster local among pairs, sorted,
// and true when they narrow the answer: the local cluster has some of the addresses
// but not all of them. Otherwise the answer is every address and it returns false.
func LocalSubset(pairs []ClusterAddr, local string) ([]netip.Addr, bool) {
	if local == "" {
		return nil, false
	}
	var sub, all []netip.Addr
	for _, p := range pairs {
		all = append(all, p.Addr)
		if p.Cluster == local {
			sub = append(sub, p.Addr)
		}
	}
	if len(sub) == 0 {
		return nil, false
	}
	slices.SortFunc(sub, netip.Addr.Compare)
	sub = slices.Compact(sub)
	slices.SortFunc(all, netip.Addr.Compare)
	if len(slices.Compact(all)) == len(sub) {
		return nil, false
	}
	return sub, true
}

// localSRV keeps the records of recs whose target is an endpoint of cluster local,
// when there are any, and reports true; otherwise (no local endpoint has the port) it
// returns recs, every cluster's records, and false.
func localSRV(recs []srvRec, names []endpointName, local string) ([]srvRec, bool) {
	var kept []srvRec
	for _, rec := range recs {
		if rec.target != serviceTarget && names[rec.target].Cluster == local {
			kept = append(kept, rec)
		}
	}
	if len(kept) == 0 {
		return recs, false
	}
	return kept, true
}
