package multicluster

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	"github.com/mcs-dns/multicluster/internal/object"
)

// Records of a ClusterSetIP service whose VIPs travel in EndpointSlices (the
// vips_from_slices option). Submariner Lighthouse writes aggregated ServiceImports
// without ips and, per exporting cluster, one EndpointSlice whose single endpoint is
// that cluster's Service VIP, ready while the cluster has a ready backend
// (submariner-io/lighthouse pkg/agent/controller/service_endpoint_slices.go,
// clusterIPEndpointSliceFrom). Spec R2 answers NODATA for such an import; with the
// option the service name answers the ready VIPs of every cluster instead.

// clusterAddrs are the ready addresses one cluster contributes to a service.
type clusterAddrs struct {
	cluster string // source-cluster label, "" when the slice has none
	addrs   []netip.Addr
}

// sliceVIPs groups the ready addresses of the slices by source cluster, sorted by
// cluster then address, each group de-duplicated (Lighthouse may hold two copies of a
// cluster's slice during an upgrade). Keeping the cluster lets a build derive the
// subset of one cluster (locality) from the same data.
func sliceVIPs(si *object.ServiceImport, eps []*object.EndpointSlice) []clusterAddrs {
	var groups []clusterAddrs
	for _, s := range eps {
		if s.Family&si.Families == 0 || len(s.Endpoints) == 0 {
			continue
		}
		i, ok := slices.BinarySearchFunc(groups, s.Cluster, func(g clusterAddrs, c string) int { return strings.Compare(g.cluster, c) })
		if !ok {
			groups = slices.Insert(groups, i, clusterAddrs{cluster: s.Cluster})
		}
		for _, e := range s.Endpoints {
			groups[i].addrs = append(groups[i].addrs, e.Addr)
		}
	}
	for i := range groups {
		slices.SortFunc(groups[i].addrs, netip.Addr.Compare)
		groups[i].addrs = slices.Compact(groups[i].addrs)
	}
	return groups
}

// buildSliceVIPs: the ready VIPs of every cluster at the service name (in place of
// R2's ips), and the import's ports as SRV records with the service name as target
// (R3, R4), taken from the slices when the import lists none. With a local cluster
// (locality.go), the local cluster's VIP alone while it has a ready one.
func buildSliceVIPs(r *records, si *object.ServiceImport, eps []*object.EndpointSlice, local string) {
	var all []netip.Addr
	var pairs []clusterAddr
	for _, g := range sliceVIPs(si, eps) {
		all = append(all, g.addrs...)
		for _, a := range g.addrs {
			pairs = append(pairs, clusterAddr{cluster: g.cluster, addr: a})
		}
	}
	slices.SortFunc(all, netip.Addr.Compare)
	r.v4, r.v6 = pack(slices.Compact(all))
	if sub, ok := localSubset(pairs, local); ok {
		r.v4, r.v6 = pack(sub)
		r.narrowed = true
	}
	ports := si.Ports
	if len(ports) == 0 {
		for _, s := range eps {
			ports = append(ports, s.Ports...)
		}
		slices.SortFunc(ports, func(a, b object.Port) int {
			return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Proto, b.Proto), cmp.Compare(a.Port, b.Port))
		})
		ports = slices.Compact(ports)
	}
	r.serviceSRV(ports)
}
