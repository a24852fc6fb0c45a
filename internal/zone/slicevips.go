package zone

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

// ClusterAddrs are the ready addresses one cluster contributes to a service.
type ClusterAddrs struct {
	Cluster string // source-cluster label, "" when the slice has none
	Addrs   []netip.Addr
}

// SliceVIPs groups the ready addresses of the slices by source cluster, sorted by
// cluster then address, each group de-duplicated (Lighthouse may hold two copies of a
// cluster's slice during an upgrade). Keeping the cluster lets a build derive the
// subset of one cluster (locality) from the same data.
func SliceVIPs(si *object.ServiceImport, eps []*object.EndpointSlice) []ClusterAddrs {
	var groups []ClusterAddrs
	for _, s := range eps {
		if s.Family&si.Families == 0 || len(s.Endpoints) == 0 {
			continue
		}
		i, ok := slices.BinarySearchFunc(groups, s.Cluster, func(g ClusterAddrs, c string) int { return strings.Compare(g.Cluster, c) })
		if !ok {
			groups = slices.Insert(groups, i, ClusterAddrs{Cluster: s.Cluster})
		}
		for _, e := range s.Endpoints {
			groups[i].Addrs = append(groups[i].Addrs, e.Addr)
		}
	}
	for i := range groups {
		slices.SortFunc(groups[i].Addrs, netip.Addr.Compare)
		groups[i].Addrs = slices.Compact(groups[i].Addrs)
	}
	return groups
}

// buildSliceVIPs: the ready VIPs of every cluster at the service name (in place of
// R2's ips), and the import's ports as SRV records with the service name as target
// (R3, R4), taken from the slices when the import lists none. With a local cluster
// (locality.go), the local cluster's VIP alone while it has a ready one.
func buildSliceVIPs(r *Records, si *object.ServiceImport, eps []*object.EndpointSlice, local string) {
	var all []netip.Addr
	var pairs []ClusterAddr
	for _, g := range SliceVIPs(si, eps) {
		all = append(all, g.Addrs...)
		for _, a := range g.Addrs {
			pairs = append(pairs, ClusterAddr{Cluster: g.Cluster, Addr: a})
		}
	}
	slices.SortFunc(all, netip.Addr.Compare)
	r.V4, r.V6 = Pack(slices.Compact(all))
	if sub, ok := LocalSubset(pairs, local); ok {
		r.V4, r.V6 = Pack(sub)
		r.Narrowed = true
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
