package zone

import (
	"net/netip"

	"github.com/mcs-dns/multicluster/internal/object"
)

// Trimmed objects, as package object makes them from the API objects.

func clusterSetIP(ns, name string, ips ...netip.Addr) *object.ServiceImport {
	si := &object.ServiceImport{Namespace: ns, Name: name, IPs: ips}
	for _, a := range ips {
		si.Families |= object.FamilyOf(a)
	}
	return si
}

func headless(ns, name string, families object.Family, ports ...object.Port) *object.ServiceImport {
	return &object.ServiceImport{Namespace: ns, Name: name, Headless: true, Families: families, Ports: ports}
}

// endpoints is an EndpointSlice of service svc from cluster with the ready endpoints eps.
func endpoints(ns, name, svc, cluster string, family object.Family, eps ...object.Endpoint) *object.EndpointSlice {
	return &object.EndpointSlice{Namespace: ns, Name: name, Service: svc, Cluster: cluster, Family: family, Endpoints: eps}
}

func ep(host, addr string) object.Endpoint {
	return object.Endpoint{Hostname: host, Addr: netip.MustParseAddr(addr)}
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func noSkips(string, string) {}
