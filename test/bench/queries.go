package main

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// The objects every throughput contender serves, and the query sets with the answers
// they must get.

const benchNS = "bench"

var (
	vipSvc   = clusterSetIPService(benchNS, "vip", []string{"10.40.0.1"}, v4Only, clusters(2), 2, netip.MustParseAddr("10.43.0.1"), http80)
	dualSvc  = clusterSetIPService(benchNS, "dual", []string{"10.40.0.2", "fd00:40::2"}, dual, clusters(2), 2, netip.MustParseAddr("10.43.1.1"), http80)
	hl10Svc  = headlessService(benchNS, "hl10", clusters(5), 2, netip.MustParseAddr("10.41.0.1"), http8080)
	hl100Svc = headlessService(benchNS, "hl100", clusters(5), 20, netip.MustParseAddr("10.42.0.1"), http8080)
	// dottedSvc has a cluster id with a dot (KEP-2149 allows DNS subdomains): checked,
	// not measured.
	dottedSvc = headlessService(benchNS, "dotted", []string{"east.prod"}, 2, netip.MustParseAddr("10.44.0.1"), http8080)
	// The freshness benchmark changes these two.
	freshVIP = clusterSetIPService(benchNS, "fresh-vip", []string{"10.50.0.1"}, v4Only, clusters(1), 2, netip.MustParseAddr("10.45.0.1"), http80)
	freshHL  = headlessService(benchNS, "fresh-hl", clusters(1), 5, netip.MustParseAddr("10.51.0.1"), http8080)
)

// backgroundServices are more ClusterSetIP imports in other namespaces, so that no
// contender serves a toy zone.
const backgroundServices = 1000

// throughputObjects are the objects of the throughput and freshness benchmarks.
func throughputObjects() []service {
	svcs := []service{vipSvc, dualSvc, hl10Svc, hl100Svc, dottedSvc, freshVIP, freshHL}
	for i := range backgroundServices {
		ns := fmt.Sprintf("bg-%02d", i%10)
		svcs = append(svcs, service{namespace: ns, name: fmt.Sprintf("svc-%d", i), ips: []string{addrFrom(netip.MustParseAddr("10.60.0.1"), i)},
			families: v4Only, ports: []port{http80}})
	}
	return svcs
}

// query is one DNS question and the answer it must get.
type query struct {
	name  string
	qtype uint16
	rcode int
	// answer is the expected answer section as normalised records (see normalise);
	// empty for NXDOMAIN and NODATA.
	answer []string
}

func (q query) String() string { return q.name + " " + dns.TypeToString[q.qtype] }

// querySet is one row of the throughput table.
type querySet struct {
	id      string
	title   string
	queries []query
	// measured is false for sets that are only checked.
	measured bool
}

func addrAnswers(owner string, s service, pick func(slice, endpoint) bool) []string {
	var out []string
	for _, sl := range s.slices {
		for _, e := range sl.endpoints {
			if pick == nil || pick(sl, e) {
				out = append(out, owner+" A "+e.addr)
			}
		}
	}
	return out
}

func srvAnswers(owner string, s service, p int32) []string {
	var out []string
	for _, sl := range s.slices {
		for _, e := range sl.endpoints {
			out = append(out, fmt.Sprintf("%s SRV %d %s.%s.%s", owner, p, e.hostname, sl.cluster, s.fqdn()))
		}
	}
	return out
}

// querySets returns the query sets in table order; the mixed set is every measured
// query of the other sets in turn.
func querySets() []querySet {
	csipA := query{name: vipSvc.fqdn(), qtype: dns.TypeA, answer: []string{vipSvc.fqdn() + " A 10.40.0.1"}}
	dualAAAA := query{name: dualSvc.fqdn(), qtype: dns.TypeAAAA, answer: []string{dualSvc.fqdn() + " AAAA fd00:40::2"}}
	hl10A := query{name: hl10Svc.fqdn(), qtype: dns.TypeA, answer: addrAnswers(hl10Svc.fqdn(), hl10Svc, nil)}
	hl100A := query{name: hl100Svc.fqdn(), qtype: dns.TypeA, answer: addrAnswers(hl100Svc.fqdn(), hl100Svc, nil)}
	epName := "web-3.cluster2." + hl100Svc.fqdn()
	epA := query{name: epName, qtype: dns.TypeA, answer: addrAnswers(epName, hl100Svc, func(sl slice, e endpoint) bool {
		return sl.cluster == "cluster2" && e.hostname == "web-3"
	})}
	csipSRVName := "_http._tcp." + vipSvc.fqdn()
	csipSRV := query{name: csipSRVName, qtype: dns.TypeSRV, answer: []string{fmt.Sprintf("%s SRV 80 %s", csipSRVName, vipSvc.fqdn())}}
	hlSRVName := "_http._tcp." + hl10Svc.fqdn()
	hlSRV := query{name: hlSRVName, qtype: dns.TypeSRV, answer: srvAnswers(hlSRVName, hl10Svc, 8080)}
	nx := query{name: "nope." + benchNS + ".svc.clusterset.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError}
	dottedName := "web-1.east.prod." + dottedSvc.fqdn()
	dotted := query{name: dottedName, qtype: dns.TypeA, answer: addrAnswers(dottedName, dottedSvc, func(_ slice, e endpoint) bool {
		return e.hostname == "web-1"
	})}

	sets := []querySet{
		{id: "csip-a", title: "ClusterSetIP A", queries: []query{csipA}, measured: true},
		{id: "dual-aaaa", title: "dual-stack AAAA", queries: []query{dualAAAA}, measured: true},
		{id: "hl10-a", title: "headless A, 10 endpoints", queries: []query{hl10A}, measured: true},
		{id: "hl100-a", title: "headless A, 100 endpoints", queries: []query{hl100A}, measured: true},
		{id: "endpoint-a", title: "`<hostname>.<clusterid>` A", queries: []query{epA}, measured: true},
		{id: "csip-srv", title: "named-port SRV, ClusterSetIP", queries: []query{csipSRV}, measured: true},
		{id: "hl-srv", title: "named-port SRV, headless (10)", queries: []query{hlSRV}, measured: true},
		{id: "nxdomain", title: "NXDOMAIN", queries: []query{nx}, measured: true},
	}
	var mixed []query
	for _, s := range sets {
		mixed = append(mixed, s.queries...)
	}
	sets = append(sets,
		querySet{id: "mixed", title: "mixed (the 8 above in turn)", queries: mixed, measured: true},
		querySet{id: "dotted-id", title: "`<hostname>.<clusterid>` A, dotted cluster id", queries: []query{dotted}},
	)
	return sets
}

// dnsperfInput is the query file of a set.
func (s querySet) dnsperfInput() string {
	var b strings.Builder
	for _, q := range s.queries {
		fmt.Fprintf(&b, "%s %s\n", q.name, dns.TypeToString[q.qtype])
	}
	return b.String()
}

// expectedRcodes is the share of each rcode in a run of the set.
func (s querySet) expectedRcodes() map[string]float64 {
	out := map[string]float64{}
	for _, q := range s.queries {
		out[dns.RcodeToString[q.rcode]] += 1 / float64(len(s.queries))
	}
	return out
}

// normalise turns an answer record into "owner TYPE data" with the fields that must
// match: the address for A/AAAA, port and target for SRV (priority and weight are the
// server's choice), the text for TXT. Names are lower case.
func normalise(rr dns.RR) string {
	owner := strings.ToLower(rr.Header().Name)
	switch r := rr.(type) {
	case *dns.A:
		return owner + " A " + r.A.String()
	case *dns.AAAA:
		return owner + " AAAA " + r.AAAA.String()
	case *dns.SRV:
		return fmt.Sprintf("%s SRV %d %s", owner, r.Port, strings.ToLower(r.Target))
	default:
		return owner + " " + dns.TypeToString[rr.Header().Rrtype] + " " + strings.TrimPrefix(rr.String(), rr.Header().String())
	}
}

// diffAnswers compares two answer sets (order-insensitive) and describes the
// difference, or returns "".
func diffAnswers(want, got []string) string {
	w := map[string]int{}
	for _, s := range want {
		w[s]++
	}
	g := map[string]int{}
	for _, s := range got {
		g[s]++
	}
	var missing, extra, dup []string
	for s, n := range w {
		if g[s] == 0 {
			missing = append(missing, s)
		} else if g[s] > n {
			dup = append(dup, s)
		}
	}
	for s := range g {
		if w[s] == 0 {
			extra = append(extra, s)
		}
	}
	if len(missing)+len(extra)+len(dup) == 0 {
		return ""
	}
	sort.Strings(missing)
	sort.Strings(extra)
	sort.Strings(dup)
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d expected records missing (e.g. %s)", len(missing), len(want), missing[0]))
	}
	if len(extra) > 0 {
		parts = append(parts, fmt.Sprintf("%d unexpected records (e.g. %s)", len(extra), extra[0]))
	}
	if len(dup) > 0 {
		parts = append(parts, fmt.Sprintf("%d duplicated records (e.g. %s)", len(dup), dup[0]))
	}
	return strings.Join(parts, "; ")
}

// setByID returns the query set with that id.
func setByID(id string) querySet {
	for _, s := range querySets() {
		if s.id == id {
			return s
		}
	}
	panic("no query set " + id)
}
