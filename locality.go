package multicluster

import (
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

// set installs a new local cluster id.
func (l *locality) set(id string) { l.id.Store(&id) }

// localFor returns the cluster whose endpoints si's name prefers, or "" when its
// answers are not narrowed.
func (l *locality) localFor(si *object.ServiceImport) string {
	if l == nil || si == nil || (!si.PreferLocal && !l.all) {
		return ""
	}
	return l.cluster()
}

// holdsLocal reports whether the answer for qtype at res holds the local cluster's
// subset: the addresses when they were narrowed, an SRV set when it was (a set falls
// back to every cluster's records when no local endpoint has its port).
func (res *resolution) holdsLocal(qtype uint16) bool {
	srv := res.srv != nil && res.srv.Local
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
