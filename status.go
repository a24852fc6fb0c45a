package multicluster

import (
	"slices"
	"sync"

	"github.com/mcs-dns/multicluster/internal/object"
)

// status.clusters of a ServiceImport lists the clusters that export the service.
// Implementations keep it differently: Submariner Lighthouse and Cilium rewrite it on
// every change, the AWS Cloud Map controller writes it only when it creates the import
// (pkg/controllers/multicluster/cloudmap_controller.go createAndGetServiceImport), and
// the mcs-api reference controller leaves it empty. Answers therefore never depend on
// it: a slice from a cluster that the status does not list is served like any other.
// It is counted (coredns_multicluster_unlisted_cluster_slices_total) and logged once per
// service and cluster while served, since it may also show a slice a controller failed
// to delete.
//
// status.endpointSliceObjects ("Absent" when an implementation such as Cilium writes no
// slices for ClusterSetIP services) is not read either: without slices there is
// nothing to serve from them anyway.

// unlistedLog remembers, per service, the unlisted clusters it has logged. A
// rebuild replaces the service's set with the clusters it serves unlisted now, and a
// deleted service drops its entry, so the memory follows what is served (as skipLog
// does for malformed values) and a cluster that goes and comes back is logged again.
// Each controller has its own: nothing outlives a stop or a Corefile reload.
type unlistedLog struct {
	mu   sync.Mutex
	seen map[object.ServiceKey]map[string]struct{}
}

// report counts and logs, once while they are served, the source clusters of slices
// that the import's status.clusters does not list. It runs when service k is rebuilt;
// si is nil when the service is gone. Bookkeeping imports (internal/object/compat.go) serve nothing.
func (l *unlistedLog) report(k object.ServiceKey, si *object.ServiceImport, eps []*object.EndpointSlice) {
	var now map[string]struct{}
	var fresh []*object.EndpointSlice
	l.mu.Lock()
	prev := l.seen[k]
	if si != nil && !si.Ignored && len(si.Clusters) > 0 {
		for _, s := range eps {
			if s.Cluster == "" || len(s.Endpoints) == 0 || slices.Contains(si.Clusters, s.Cluster) {
				continue
			}
			unlistedSlices.Inc()
			if _, dup := now[s.Cluster]; dup {
				continue
			}
			if now == nil {
				now = map[string]struct{}{}
			}
			now[s.Cluster] = struct{}{}
			if _, old := prev[s.Cluster]; !old {
				fresh = append(fresh, s)
			}
		}
	}
	switch {
	case now != nil:
		if l.seen == nil {
			l.seen = map[object.ServiceKey]map[string]struct{}{}
		}
		l.seen[k] = now
	case prev != nil:
		delete(l.seen, k)
	}
	l.mu.Unlock()
	for _, s := range fresh {
		log.Infof("ServiceImport %s/%s: EndpointSlice %s comes from cluster %q, which status.clusters does not list; serving it",
			si.Namespace, si.Name, s.Name, s.Cluster)
	}
}
