package zone

import (
	"testing"

	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/mcs-dns/multicluster/internal/object"
)

const zoneLen = len("clusterset.local.")

// answer is what a query of the service name (per-endpoint name host.cluster when host
// is set) answers for qtype from r: the records, with the SRV targets' addresses in
// the additional section.
func answer(r *Records, base, host, cluster string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.Response = true
	v4, v6 := r.V4, r.V6
	owner := base
	if host != "" {
		owner = host + "." + cluster + "." + base
		n, ok := r.LookupName(host, cluster)
		if !ok {
			m.Rcode = dns.RcodeNameError
			return m
		}
		v4, v6 = r.NameAddrs(n)
	}
	switch qtype {
	case dns.TypeA:
		m.Answer = AppendA(nil, owner, v4, 5)
	case dns.TypeAAAA:
		m.Answer = AppendAAAA(nil, owner, v6, 5)
	case dns.TypeSRV:
		if r.SRV != nil {
			m.Answer, m.Extra = AppendSRV(nil, nil, owner, base, r, r.SRV, 5, true)
		}
	}
	return m
}

// TestBuild: the records of a service answer what the MCS DNS specification says, for
// ClusterSetIP and headless services, and per-endpoint names.
func TestBuild(t *testing.T) {
	const web, db = "web.shop.svc.clusterset.local.", "db.shop.svc.clusterset.local."
	http := object.Port{Name: "http", Proto: "tcp", Port: 80}
	pg := object.Port{Name: "pg", Proto: "tcp", Port: 5432}
	dual := clusterSetIP("shop", "web", addr("10.42.0.1"), addr("fd00::1"))
	dual.Ports = []object.Port{http}
	hl := headless("shop", "db", object.FamilyV4, pg)
	east := endpoints("shop", "db-east", "db", "east", object.FamilyV4, ep("db-0", "10.1.0.10"), ep("db-1", "10.1.0.11"))
	west := endpoints("shop", "db-west", "db", "west", object.FamilyV4, ep("db-0", "10.2.0.10"))
	west.Ports = []object.Port{pg} // headless SRV records carry the endpoints' ports
	for _, tc := range []struct {
		name          string
		si            *object.ServiceImport
		eps           []*object.EndpointSlice
		host, cluster string
		tc            test.Case
	}{
		{"ClusterSetIP A", dual, nil, "", "", test.Case{Qname: web, Qtype: dns.TypeA,
			Answer: []dns.RR{test.A(web + " 5 IN A 10.42.0.1")}}},
		{"ClusterSetIP AAAA", dual, nil, "", "", test.Case{Qname: web, Qtype: dns.TypeAAAA,
			Answer: []dns.RR{test.AAAA(web + " 5 IN AAAA fd00::1")}}},
		{"ClusterSetIP SRV targets the service name", dual, nil, "", "", test.Case{Qname: web, Qtype: dns.TypeSRV,
			Answer: []dns.RR{test.SRV(web + " 5 IN SRV 0 100 80 " + web)},
			Extra:  []dns.RR{test.A(web + " 5 IN A 10.42.0.1"), test.AAAA(web + " 5 IN AAAA fd00::1")}}},
		{"ClusterSetIP publishes no endpoints", dual, []*object.EndpointSlice{
			endpoints("shop", "web-east", "web", "east", object.FamilyV4, ep("web-0", "10.1.0.20"))}, "", "",
			test.Case{Qname: web, Qtype: dns.TypeA, Answer: []dns.RR{test.A(web + " 5 IN A 10.42.0.1")}}},
		{"headless A: every cluster's ready endpoints", hl, []*object.EndpointSlice{east, west}, "", "", test.Case{Qname: db, Qtype: dns.TypeA,
			Answer: []dns.RR{test.A(db + " 5 IN A 10.1.0.10"), test.A(db + " 5 IN A 10.1.0.11"), test.A(db + " 5 IN A 10.2.0.10")}}},
		{"headless AAAA of a v4 service", hl, []*object.EndpointSlice{east, west}, "", "", test.Case{Qname: db, Qtype: dns.TypeAAAA}},
		{"per-endpoint name", hl, []*object.EndpointSlice{east, west}, "db-0", "west", test.Case{Qname: "db-0.west." + db, Qtype: dns.TypeA,
			Answer: []dns.RR{test.A("db-0.west." + db + " 5 IN A 10.2.0.10")}}},
		{"per-endpoint name of another cluster", hl, []*object.EndpointSlice{east}, "db-0", "west", test.Case{Qname: "db-0.west." + db, Qtype: dns.TypeA,
			Rcode: dns.RcodeNameError}},
		{"headless SRV: one record per endpoint and port", hl, []*object.EndpointSlice{west}, "", "", test.Case{Qname: db, Qtype: dns.TypeSRV,
			Answer: []dns.RR{test.SRV(db + " 5 IN SRV 0 100 5432 db-0.west." + db)},
			Extra:  []dns.RR{test.A("db-0.west." + db + " 5 IN A 10.2.0.10")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Build(tc.si, tc.eps, zoneLen, noSkips)
			if r == nil {
				t.Fatal("no records")
			}
			base := tc.si.Name + "." + tc.si.Namespace + ".svc.clusterset.local."
			if err := test.SortAndCheck(answer(r, base, tc.host, tc.cluster, tc.tc.Qtype), tc.tc); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestBuildCreatesNoNames: only a served ServiceImport creates names; a headless
// service without ready endpoints has its namespace but not its name (spec R5); names
// that cannot fit in DNS are skipped and said so.
func TestBuildCreatesNoNames(t *testing.T) {
	long := make([]byte, 240)
	for i := range long {
		long[i] = 'a'
	}
	for _, tc := range []struct {
		name       string
		si         *object.ServiceImport
		nilRecords bool
		exists     bool
		skip       string
	}{
		{"no import", nil, true, false, ""},
		{"bookkeeping import", &object.ServiceImport{Namespace: "shop", Name: "web", Ignored: true}, true, false, ""},
		{"name too long", clusterSetIP("shop", string(long), addr("10.42.0.1")), true, false, object.ReasonLongName},
		{"headless without endpoints", headless("shop", "db", object.FamilyV4), false, false, ""},
		{"ClusterSetIP", clusterSetIP("shop", "web", addr("10.42.0.1")), false, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var skipped []string
			r := Build(tc.si, nil, zoneLen, func(reason, _ string) { skipped = append(skipped, reason) })
			if (r == nil) != tc.nilRecords {
				t.Fatalf("records %v, want nil %v", r, tc.nilRecords)
			}
			if r != nil && r.Exists != tc.exists {
				t.Errorf("Exists %v, want %v", r.Exists, tc.exists)
			}
			if want := tc.skip != ""; want != (len(skipped) == 1 && skipped[0] == tc.skip) {
				t.Errorf("skipped %v, want %q", skipped, tc.skip)
			}
		})
	}
}
