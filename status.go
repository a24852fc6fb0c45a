package multicluster

import (
	"slices"
	"sync"
)

// status.clusters of a ServiceImport lists the clusters that export the service.
// Implementations keep it differently: Submariner Lighthouse and Cilium rewrite it on
// every change, the AWS Cloud Map controller writes it only when it creates the import
// (pkg/controllers/multicluster/cloudmap_controller.go createAndGetServiceImport), and
// the mcs-api reference controller leaves it empty. Answers therefore never depend on
// it: a slice from a cluster that the status does not list is served like any other.
// It is counted (coredns_multicluster_unlisted_cluster_slices_total) and logged once per
// service and cluster, since it may also show a slice a controller failed to delete.
//
// status.endpointSliceObjects ("Absent" when an implementation such as Cilium writes no
// slices for ClusterSetIP services) is not read either: without slices there is
// nothing to serve from them anyway.

// unlistedLogged remembers the (service, cluster) pairs already logged.
var unlistedLogged sync.Map

// reportUnlisted counts and logs, once, the source clusters of slices that the
// import's status.clusters does not list. It runs when a service is rebuilt.
func reportUnlisted(si *serviceImport, eps []*endpointSlice) {
	if len(si.clusters) == 0 {
		return
	}
	for _, s := range eps {
		if s.cluster == "" || len(s.endpoints) == 0 || slices.Contains(si.clusters, s.cluster) {
			continue
		}
		unlistedSlices.Inc()
		key := si.namespace + "/" + si.name + "/" + s.cluster
		if _, seen := unlistedLogged.LoadOrStore(key, struct{}{}); !seen {
			log.Infof("ServiceImport %s/%s: EndpointSlice %s comes from cluster %q, which status.clusters does not list; serving it",
				si.namespace, si.name, s.name, s.cluster)
		}
	}
}
