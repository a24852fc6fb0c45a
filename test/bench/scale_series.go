package main

import (
	"fmt"
	"net/netip"
)

// scaleSeries is one way of growing a ClusterSet: its points are sizes, each measured
// after adding services to the previous point's.
type scaleSeries struct {
	// Name is "imports" (many small services over 5 clusters) or "endpoints" (fewer,
	// larger services over many clusters).
	Name string
	// Points are the sizes as given on the command line: ServiceImports for "imports",
	// endpoints for "endpoints".
	Points []int
	// Clusters is how many clusters export the series' services.
	Clusters int
	// services returns how many services make a point.
	services func(point int) int
	// service builds service i.
	service func(i int) service
}

// importSeries: n ServiceImports shaped by scaleService (10 endpoints each).
func importSeries(points []int) scaleSeries {
	return scaleSeries{Name: "imports", Points: points, Clusters: 5, services: func(n int) int { return n }, service: scaleService}
}

// endpointShape is the shape of the "endpoints" series: every service is exported by
// perService of the clusters (a window that moves with the service number, so every
// cluster exports about as many services), one EndpointSlice per cluster and service
// with perSlice endpoints, as an MCS controller writes them (at most 100 per slice).
type endpointShape struct {
	Clusters   int `json:"clusters"`
	PerService int `json:"clustersPerService"`
	PerSlice   int `json:"endpointsPerSlice"`
}

func (s endpointShape) perService() int { return s.PerService * s.PerSlice }

// endpointSeries: points are endpoint counts, made of services of shape s.
func endpointSeries(points []int, s endpointShape) scaleSeries {
	return scaleSeries{
		Name:     "endpoints",
		Points:   points,
		Clusters: s.Clusters,
		services: func(n int) int { return max(1, n/s.perService()) },
		service:  s.service,
	}
}

// service is service i of the endpoints series: one in five headless (hostnames web-0 …
// in every cluster, as a StatefulSet per cluster has), the others ClusterSetIP. Service
// i's addresses are a block of its own in 10.0.0.0/8 (16M addresses: enough for 3M
// endpoints and more).
func (s endpointShape) service(i int) service {
	ns := fmt.Sprintf("big-%02d", i%scaleNamespaces)
	name := fmt.Sprintf("big-%05d", i)
	cl := make([]string, s.PerService)
	for k := range cl {
		cl[k] = clusterName((i + k) % s.Clusters)
	}
	base := netip.MustParseAddr(addrFrom(netip.MustParseAddr("10.0.0.0"), i*s.perService()))
	// Not i%5 == 4: the last service of a point (point sizes are multiples of five
	// services) tells that everything is served by answering its VIP.
	if i%5 == 2 {
		return headlessService(ns, name, cl, s.PerSlice, base, http8080)
	}
	vip := addrFrom(netip.MustParseAddr("172.20.0.1"), i)
	return clusterSetIPService(ns, name, []string{vip}, v4Only, cl, s.PerSlice, base, http80)
}
