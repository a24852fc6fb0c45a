package multicluster

import (
	"net/netip"
	"slices"
	"sync/atomic"

	"github.com/coredns/coredns/plugin"
	"github.com/mcs-dns/multicluster/internal/object"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Locality: a service that prefers close endpoints answers its service name (A, AAAA
// and SRV, the bare name and its "_<port>._<proto>" names) with the ready endpoints of
// the local cluster while that cluster has any in the served families, else with every
// cluster's. KEP-1645 allows "a subset of ready endpoints" for a headless service's
// name; A and AAAA use the same subset. Per-endpoint names are never narrowed: they
// name one endpoint of one cluster. The choice is made when the records are built
// (the local cluster id is an input of the build), never per query, so zone
// transfers carry exactly what queries answer.
//
// A service prefers close endpoints when its ServiceImport's spec.trafficDistribution
// is PreferClose, PreferSameZone or PreferSameNode (read as "same cluster": DNS cannot
// see the zone or node of a client), or when the Corefile's prefer_local applies the
// preference to every service. spec.internalTrafficPolicy is not used: its Local
// means "drop traffic without a node-local endpoint", which a name answered for the
// whole ClusterSet must not do.

// locality is the local cluster's identity and the Corefile's locality options. The
// controller reads it when it builds a service's records.
type locality struct {
	// all applies the preference to every service (Corefile: prefer_local).
	all bool
	// fixed is the Corefile's cluster_id; when set, no ClusterProperty is read.
	fixed string
	// id is the local cluster id in use ("" while unknown: no narrowing).
	id atomic.Pointer[string]
}

func newLocality(fixed string, all bool) *locality {
	l := &locality{all: all, fixed: fixed}
	l.id.Store(&fixed)
	return l
}

// cluster returns the local cluster id, or "" while it is unknown.
func (l *locality) cluster() string {
	if l == nil {
		return ""
	}
	return *l.id.Load()
}

// set installs a new local cluster id and reports whether it changed.
func (l *locality) set(id string) bool {
	old := l.id.Swap(&id)
	return *old != id
}

// localFor returns the cluster whose endpoints si's name prefers, or "" when its
// answers are not narrowed.
func (l *locality) localFor(si *object.ServiceImport) string {
	if l == nil || si == nil || (!si.PreferLocal && !l.all) {
		return ""
	}
	return l.cluster()
}

// clusterAddr is an address served for a service name and the cluster it comes from
// ("" when unknown). Headless endpoints and per-cluster VIPs are both lists of these.
type clusterAddr struct {
	cluster string
	addr    netip.Addr
}

// localSubset returns the distinct addresses of cluster local among pairs, sorted,
// and true when they narrow the answer: the local cluster has some of the addresses
// but not all of them. Otherwise the answer is every address and it returns false.
func localSubset(pairs []clusterAddr, local string) ([]netip.Addr, bool) {
	if local == "" {
		return nil, false
	}
	var sub, all []netip.Addr
	for _, p := range pairs {
		all = append(all, p.addr)
		if p.cluster == local {
			sub = append(sub, p.addr)
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
		if rec.target != serviceTarget && names[rec.target].cluster == local {
			kept = append(kept, rec)
		}
	}
	if len(kept) == 0 {
		return recs, false
	}
	return kept, true
}

// holdsLocal reports whether the answer for qtype at res holds the local cluster's
// subset: the addresses when they were narrowed, an SRV set when it was (a set falls
// back to every cluster's records when no local endpoint has its port).
func (res *resolution) holdsLocal(qtype uint16) bool {
	srv := res.srv != nil && res.srv.local
	switch qtype {
	case dns.TypeA, dns.TypeAAAA:
		return res.narrowed
	case dns.TypeSRV:
		return srv
	case dns.TypeANY:
		return res.narrowed || srv
	}
	return false
}

var localityAnswers = promauto.NewCounter(prometheus.CounterOpts{
	Namespace: plugin.Namespace,
	Subsystem: pluginName,
	Name:      "locality_answers_total",
	Help:      "Answers for a service name that hold only the local cluster's endpoints.",
})
