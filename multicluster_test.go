package multicluster

import (
	"context"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
)

const (
	ipv4 = discovery.AddressTypeIPv4
	ipv6 = discovery.AddressTypeIPv6
	tcp  = corev1.ProtocolTCP
	udp  = corev1.ProtocolUDP
)

// clusterSet is a ClusterSet of three clusters (east, west.us with a dotted id, and
// slices without a source cluster) covering every row of the spec.
func clusterSet() []any {
	pg := []epPort{{"pg", tcp, 5432}}
	pgWest := []epPort{{"pg", tcp, 5433}}
	return []any{
		clusterSetIP("shop", "web", []string{"10.42.0.1"}, families(v4),
			sp("http", tcp, 80), sp("metrics", "", 9090), sp("dns", udp, 53), sp("", tcp, 8080)),
		clusterSetIP("shop", "dual", []string{"10.42.0.2", "fd00::2"}, families(v4, v6), sp("http", tcp, 80)),
		clusterSetIP("shop", "v6only", []string{"10.42.0.3", "fd00::3"}, families(v6)),
		clusterSetIP("shop", "nofam", []string{"10.42.0.4"}, nil),
		clusterSetIP("shop", "noip", nil, families(v4), sp("http", tcp, 80)),
		clusterSetIP("shop", "samenum", []string{"10.42.0.5"}, families(v4), sp("a", tcp, 42), sp("b", udp, 42)),
		alphaImport("legacy", "old", "10.42.1.1"),

		headlessImport("shop", "db", families(v4, v6), sp("pg", tcp, 5432)),
		slice("shop", "db-east", "db", "east", ipv4, pg,
			ready("db-0", "10.1.0.10"), explicitlyReady("db-1", "10.1.0.11"),
			notReady("db-2", "10.1.0.12"), terminating("db-3", "10.1.0.13")),
		slice("shop", "db-east-v6", "db", "east", ipv6, pg, ready("db-0", "fd00:1::10")),
		slice("shop", "db-west", "db", "west.us", ipv4, pgWest, ready("db-0", "10.2.0.10"), ready("", "10.2.0.20")),

		headlessImport("shop", "dup", families(v4), sp("pg", tcp, 5432)),
		slice("shop", "dup-1", "dup", "east", ipv4, pg, ready("a", "10.3.0.1"), ready("b", "10.3.0.2")),
		slice("shop", "dup-2", "dup", "east", ipv4, pg, ready("a", "10.3.0.1"), ready("b", "10.3.0.3")),

		headlessImport("shop", "nocluster", nil, sp("pg", tcp, 5432)),
		slice("shop", "nocluster-1", "nocluster", "", ipv4, pg, ready("x", "10.4.0.1")),

		headlessImport("shop", "empty", nil),
		headlessImport("shop", "notready", nil),
		slice("shop", "notready-1", "notready", "east", ipv4, pg, notReady("a", "10.4.1.1")),
		headlessImport("shop", "hl4", families(v4)),
		slice("shop", "hl4-1", "hl4", "east", ipv4, pg, ready("a", "10.4.2.1")),
		slice("shop", "hl4-2", "hl4", "east", ipv6, pg, ready("a", "fd00:4::1")),
		headlessImport("shop", "fqdn", nil),
		slice("shop", "fqdn-1", "fqdn", "east", discovery.AddressTypeFQDN, pg, ready("a", "example.com")),
		headlessImport("shop", "bad", nil),
		slice("shop", "bad-1", "bad", "east", ipv4, pg,
			ready("ok", "10.5.0.1"), ready("ugly", "300.1.1.1"), ready("mixed", "fd00::5"), ready("Bad_Host", "10.5.0.2")),
		headlessImport("shop", "v6hl", families(v6)),
		slice("shop", "v6hl-1", "v6hl", "east", ipv6, nil, ready("", "fd00::"), ready("", "fd00::7")),
		// An EndpointSlice of a service that has no ServiceImport: no names (spec §3).
		slice("shop", "orphan-1", "orphan", "east", ipv4, pg, ready("a", "10.6.0.1")),
	}
}

var soa = test.SOA("clusterset.local. 5 IN SOA ns.dns.clusterset.local. hostmaster.clusterset.local. 1 7200 1800 86400 5")

func nodata(qname string, qtype uint16) test.Case {
	return test.Case{Qname: qname, Qtype: qtype, Rcode: dns.RcodeSuccess, Ns: []dns.RR{soa}}
}

func nxdomain(qname string, qtype uint16) test.Case {
	return test.Case{Qname: qname, Qtype: qtype, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa}}
}

var dnsTestCases = []test.Case{
	// R1: schema version.
	{Qname: "dns-version.clusterset.local.", Qtype: dns.TypeTXT,
		Answer: []dns.RR{test.TXT(`dns-version.clusterset.local. 5 IN TXT "1.0.0"`)}},
	nodata("dns-version.clusterset.local.", dns.TypeA),

	// R2: ClusterSetIP A/AAAA with the ipFamilies filter.
	{Qname: "web.shop.svc.clusterset.local.", Qtype: dns.TypeA,
		Answer: []dns.RR{test.A("web.shop.svc.clusterset.local. 5 IN A 10.42.0.1")}},
	nodata("web.shop.svc.clusterset.local.", dns.TypeAAAA),
	{Qname: "dual.shop.svc.clusterset.local.", Qtype: dns.TypeA,
		Answer: []dns.RR{test.A("dual.shop.svc.clusterset.local. 5 IN A 10.42.0.2")}},
	{Qname: "dual.shop.svc.clusterset.local.", Qtype: dns.TypeAAAA,
		Answer: []dns.RR{test.AAAA("dual.shop.svc.clusterset.local. 5 IN AAAA fd00::2")}},
	nodata("v6only.shop.svc.clusterset.local.", dns.TypeA),
	{Qname: "v6only.shop.svc.clusterset.local.", Qtype: dns.TypeAAAA,
		Answer: []dns.RR{test.AAAA("v6only.shop.svc.clusterset.local. 5 IN AAAA fd00::3")}},
	{Qname: "nofam.shop.svc.clusterset.local.", Qtype: dns.TypeA,
		Answer: []dns.RR{test.A("nofam.shop.svc.clusterset.local. 5 IN A 10.42.0.4")}},
	nodata("nofam.shop.svc.clusterset.local.", dns.TypeAAAA),
	nodata("noip.shop.svc.clusterset.local.", dns.TypeA),
	{Qname: "old.legacy.svc.clusterset.local.", Qtype: dns.TypeA,
		Answer: []dns.RR{test.A("old.legacy.svc.clusterset.local. 5 IN A 10.42.1.1")}},

	// R3: named-port SRV of a ClusterSetIP service, VIP in Additional.
	{Qname: "_http._tcp.web.shop.svc.clusterset.local.", Qtype: dns.TypeSRV,
		Answer: []dns.RR{test.SRV("_http._tcp.web.shop.svc.clusterset.local. 5 IN SRV 0 100 80 web.shop.svc.clusterset.local.")},
		Extra:  []dns.RR{test.A("web.shop.svc.clusterset.local. 5 IN A 10.42.0.1")}},
	{Qname: "_metrics._tcp.web.shop.svc.clusterset.local.", Qtype: dns.TypeSRV,
		Answer: []dns.RR{test.SRV("_metrics._tcp.web.shop.svc.clusterset.local. 5 IN SRV 0 100 9090 web.shop.svc.clusterset.local.")},
		Extra:  []dns.RR{test.A("web.shop.svc.clusterset.local. 5 IN A 10.42.0.1")}},
	{Qname: "_dns._udp.web.shop.svc.clusterset.local.", Qtype: dns.TypeSRV,
		Answer: []dns.RR{test.SRV("_dns._udp.web.shop.svc.clusterset.local. 5 IN SRV 0 100 53 web.shop.svc.clusterset.local.")},
		Extra:  []dns.RR{test.A("web.shop.svc.clusterset.local. 5 IN A 10.42.0.1")}},
	{Qname: "_HTTP._Tcp.web.shop.svc.clusterset.local.", Qtype: dns.TypeSRV,
		Answer: []dns.RR{test.SRV("_HTTP._Tcp.web.shop.svc.clusterset.local. 5 IN SRV 0 100 80 web.shop.svc.clusterset.local.")},
		Extra:  []dns.RR{test.A("web.shop.svc.clusterset.local. 5 IN A 10.42.0.1")}},
	// No address to serve: no SRV records pointing at it (a target without an address
	// is unusable, and named-checkzone -i full flags the zone).
	nxdomain("_http._tcp.noip.shop.svc.clusterset.local.", dns.TypeSRV),
	nodata("noip.shop.svc.clusterset.local.", dns.TypeSRV),
	nxdomain("_http._udp.web.shop.svc.clusterset.local.", dns.TypeSRV),
	nxdomain("_nope._tcp.web.shop.svc.clusterset.local.", dns.TypeSRV),
	nodata("_tcp.web.shop.svc.clusterset.local.", dns.TypeSRV),
	nodata("_http._tcp.web.shop.svc.clusterset.local.", dns.TypeA),

	// R4: bare-name SRV, one per distinct port.
	{Qname: "web.shop.svc.clusterset.local.", Qtype: dns.TypeSRV,
		Answer: []dns.RR{
			test.SRV("web.shop.svc.clusterset.local. 5 IN SRV 0 25 53 web.shop.svc.clusterset.local."),
			test.SRV("web.shop.svc.clusterset.local. 5 IN SRV 0 25 80 web.shop.svc.clusterset.local."),
			test.SRV("web.shop.svc.clusterset.local. 5 IN SRV 0 25 8080 web.shop.svc.clusterset.local."),
			test.SRV("web.shop.svc.clusterset.local. 5 IN SRV 0 25 9090 web.shop.svc.clusterset.local."),
		},
		Extra: []dns.RR{test.A("web.shop.svc.clusterset.local. 5 IN A 10.42.0.1")}},
	{Qname: "samenum.shop.svc.clusterset.local.", Qtype: dns.TypeSRV,
		Answer: []dns.RR{test.SRV("samenum.shop.svc.clusterset.local. 5 IN SRV 0 100 42 samenum.shop.svc.clusterset.local.")},
		Extra:  []dns.RR{test.A("samenum.shop.svc.clusterset.local. 5 IN A 10.42.0.5")}},

	// R5: headless service name: ready endpoints of every cluster, de-duplicated.
	{Qname: "db.shop.svc.clusterset.local.", Qtype: dns.TypeA,
		Answer: []dns.RR{
			test.A("db.shop.svc.clusterset.local. 5 IN A 10.1.0.10"),
			test.A("db.shop.svc.clusterset.local. 5 IN A 10.1.0.11"),
			test.A("db.shop.svc.clusterset.local. 5 IN A 10.2.0.10"),
			test.A("db.shop.svc.clusterset.local. 5 IN A 10.2.0.20"),
		}},
	{Qname: "db.shop.svc.clusterset.local.", Qtype: dns.TypeAAAA,
		Answer: []dns.RR{test.AAAA("db.shop.svc.clusterset.local. 5 IN AAAA fd00:1::10")}},
	{Qname: "dup.shop.svc.clusterset.local.", Qtype: dns.TypeA,
		Answer: []dns.RR{
			test.A("dup.shop.svc.clusterset.local. 5 IN A 10.3.0.1"),
			test.A("dup.shop.svc.clusterset.local. 5 IN A 10.3.0.2"),
			test.A("dup.shop.svc.clusterset.local. 5 IN A 10.3.0.3"),
		}},
	{Qname: "nocluster.shop.svc.clusterset.local.", Qtype: dns.TypeA,
		Answer: []dns.RR{test.A("nocluster.shop.svc.clusterset.local. 5 IN A 10.4.0.1")}},
	nxdomain("empty.shop.svc.clusterset.local.", dns.TypeA),
	nxdomain("notready.shop.svc.clusterset.local.", dns.TypeA),
	nxdomain("fqdn.shop.svc.clusterset.local.", dns.TypeA),
	{Qname: "hl4.shop.svc.clusterset.local.", Qtype: dns.TypeA,
		Answer: []dns.RR{test.A("hl4.shop.svc.clusterset.local. 5 IN A 10.4.2.1")}},
	nodata("hl4.shop.svc.clusterset.local.", dns.TypeAAAA),
	// An invalid hostname loses its name, not its address (issue 7.6).
	{Qname: "bad.shop.svc.clusterset.local.", Qtype: dns.TypeA,
		Answer: []dns.RR{
			test.A("bad.shop.svc.clusterset.local. 5 IN A 10.5.0.1"),
			test.A("bad.shop.svc.clusterset.local. 5 IN A 10.5.0.2"),
		}},

	// R6: per-endpoint names with the cluster id, dotted ids, derived hostnames.
	{Qname: "db-0.east.db.shop.svc.clusterset.local.", Qtype: dns.TypeA,
		Answer: []dns.RR{test.A("db-0.east.db.shop.svc.clusterset.local. 5 IN A 10.1.0.10")}},
	{Qname: "db-0.east.db.shop.svc.clusterset.local.", Qtype: dns.TypeAAAA,
		Answer: []dns.RR{test.AAAA("db-0.east.db.shop.svc.clusterset.local. 5 IN AAAA fd00:1::10")}},
	{Qname: "db-0.west.us.db.shop.svc.clusterset.local.", Qtype: dns.TypeA,
		Answer: []dns.RR{test.A("db-0.west.us.db.shop.svc.clusterset.local. 5 IN A 10.2.0.10")}},
	{Qname: "10-2-0-20.west.us.db.shop.svc.clusterset.local.", Qtype: dns.TypeA,
		Answer: []dns.RR{test.A("10-2-0-20.west.us.db.shop.svc.clusterset.local. 5 IN A 10.2.0.20")}},
	{Qname: "b.east.dup.shop.svc.clusterset.local.", Qtype: dns.TypeA,
		Answer: []dns.RR{
			test.A("b.east.dup.shop.svc.clusterset.local. 5 IN A 10.3.0.2"),
			test.A("b.east.dup.shop.svc.clusterset.local. 5 IN A 10.3.0.3"),
		}},
	{Qname: "fd00--0.east.v6hl.shop.svc.clusterset.local.", Qtype: dns.TypeAAAA,
		Answer: []dns.RR{test.AAAA("fd00--0.east.v6hl.shop.svc.clusterset.local. 5 IN AAAA fd00::")}},
	{Qname: "fd00--7.east.v6hl.shop.svc.clusterset.local.", Qtype: dns.TypeAAAA,
		Answer: []dns.RR{test.AAAA("fd00--7.east.v6hl.shop.svc.clusterset.local. 5 IN AAAA fd00::7")}},
	{Qname: "ok.east.bad.shop.svc.clusterset.local.", Qtype: dns.TypeA,
		Answer: []dns.RR{test.A("ok.east.bad.shop.svc.clusterset.local. 5 IN A 10.5.0.1")}},
	nodata("db-0.west.us.db.shop.svc.clusterset.local.", dns.TypeAAAA),
	nxdomain("db-2.east.db.shop.svc.clusterset.local.", dns.TypeA),
	nxdomain("db-3.east.db.shop.svc.clusterset.local.", dns.TypeA),
	nxdomain("db-0.north.db.shop.svc.clusterset.local.", dns.TypeA),
	nxdomain("x.east.nocluster.shop.svc.clusterset.local.", dns.TypeA),
	nxdomain("mixed.east.bad.shop.svc.clusterset.local.", dns.TypeAAAA),
	nxdomain("ugly.east.bad.shop.svc.clusterset.local.", dns.TypeA),
	nxdomain("bad_host.east.bad.shop.svc.clusterset.local.", dns.TypeA),
	{Qname: "10-5-0-2.east.bad.shop.svc.clusterset.local.", Qtype: dns.TypeA,
		Answer: []dns.RR{test.A("10-5-0-2.east.bad.shop.svc.clusterset.local. 5 IN A 10.5.0.2")}},
	nodata("a.east.hl4.shop.svc.clusterset.local.", dns.TypeAAAA),

	// R7: named-port SRV of a headless service, port from each endpoint's slice.
	{Qname: "_pg._tcp.db.shop.svc.clusterset.local.", Qtype: dns.TypeSRV,
		Answer: []dns.RR{
			test.SRV("_pg._tcp.db.shop.svc.clusterset.local. 5 IN SRV 0 25 5432 db-0.east.db.shop.svc.clusterset.local."),
			test.SRV("_pg._tcp.db.shop.svc.clusterset.local. 5 IN SRV 0 25 5432 db-1.east.db.shop.svc.clusterset.local."),
			test.SRV("_pg._tcp.db.shop.svc.clusterset.local. 5 IN SRV 0 25 5433 10-2-0-20.west.us.db.shop.svc.clusterset.local."),
			test.SRV("_pg._tcp.db.shop.svc.clusterset.local. 5 IN SRV 0 25 5433 db-0.west.us.db.shop.svc.clusterset.local."),
		},
		Extra: []dns.RR{
			test.A("10-2-0-20.west.us.db.shop.svc.clusterset.local. 5 IN A 10.2.0.20"),
			test.A("db-0.east.db.shop.svc.clusterset.local. 5 IN A 10.1.0.10"),
			test.AAAA("db-0.east.db.shop.svc.clusterset.local. 5 IN AAAA fd00:1::10"),
			test.A("db-0.west.us.db.shop.svc.clusterset.local. 5 IN A 10.2.0.10"),
			test.A("db-1.east.db.shop.svc.clusterset.local. 5 IN A 10.1.0.11"),
		}},
	nxdomain("_pg._tcp.nocluster.shop.svc.clusterset.local.", dns.TypeSRV),
	// Without a source cluster there are no per-endpoint names for SRV targets: the
	// bare-name SRV (R8) is NODATA (what the mcs-api reference controllers get).
	nodata("nocluster.shop.svc.clusterset.local.", dns.TypeSRV),

	// R8: bare-name SRV of a headless service.
	{Qname: "dup.shop.svc.clusterset.local.", Qtype: dns.TypeSRV,
		Answer: []dns.RR{
			test.SRV("dup.shop.svc.clusterset.local. 5 IN SRV 0 50 5432 a.east.dup.shop.svc.clusterset.local."),
			test.SRV("dup.shop.svc.clusterset.local. 5 IN SRV 0 50 5432 b.east.dup.shop.svc.clusterset.local."),
		},
		Extra: []dns.RR{
			test.A("a.east.dup.shop.svc.clusterset.local. 5 IN A 10.3.0.1"),
			test.A("b.east.dup.shop.svc.clusterset.local. 5 IN A 10.3.0.2"),
			test.A("b.east.dup.shop.svc.clusterset.local. 5 IN A 10.3.0.3"),
		}},

	// R9: <clusterid>.<svc> never has records: NODATA above endpoint names.
	nodata("east.db.shop.svc.clusterset.local.", dns.TypeA),
	nodata("west.us.db.shop.svc.clusterset.local.", dns.TypeA),
	nodata("us.db.shop.svc.clusterset.local.", dns.TypeSRV),
	nxdomain("east.web.shop.svc.clusterset.local.", dns.TypeA),
	nxdomain("east.nocluster.shop.svc.clusterset.local.", dns.TypeA),

	// R10: SOA and NS at the apex; the NS target exists.
	{Qname: "clusterset.local.", Qtype: dns.TypeSOA, Answer: []dns.RR{soa}},
	{Qname: "clusterset.local.", Qtype: dns.TypeNS,
		Answer: []dns.RR{test.NS("clusterset.local. 5 IN NS ns.dns.clusterset.local.")}},
	nodata("clusterset.local.", dns.TypeA),
	// The NS target has the server's addresses (spec R10; a zone whose NS has no
	// address is rejected by named-checkzone).
	{Qname: "ns.dns.clusterset.local.", Qtype: dns.TypeA,
		Answer: []dns.RR{test.A("ns.dns.clusterset.local. 5 IN A 10.96.0.10")}},
	nodata("ns.dns.clusterset.local.", dns.TypeAAAA),
	nodata("dns.clusterset.local.", dns.TypeA),

	// Section 3: names without data, missing names, case.
	nodata("svc.clusterset.local.", dns.TypeA),
	nodata("shop.svc.clusterset.local.", dns.TypeA),
	nodata("web.shop.svc.clusterset.local.", dns.TypeMX),
	nodata("web.shop.svc.clusterset.local.", dns.TypePTR),
	nxdomain("nons.svc.clusterset.local.", dns.TypeA),
	nxdomain("unknown.shop.svc.clusterset.local.", dns.TypeA),
	nxdomain("unknown.shop.svc.clusterset.local.", dns.TypeMX),
	nxdomain("orphan.shop.svc.clusterset.local.", dns.TypeA),
	nxdomain("pod.clusterset.local.", dns.TypeA),
	nxdomain("10-1-0-10.shop.pod.clusterset.local.", dns.TypeA),
	nxdomain("*.shop.svc.clusterset.local.", dns.TypeA),
	nxdomain("*.db.shop.svc.clusterset.local.", dns.TypeA),
	nxdomain("x.web.shop.svc.clusterset.local.", dns.TypeA),
	nxdomain("web.shop.clusterset.local.", dns.TypeA),
	{Qname: "DB-0.East.DB.Shop.SVC.ClusterSet.Local.", Qtype: dns.TypeA,
		Answer: []dns.RR{test.A("DB-0.East.DB.Shop.SVC.ClusterSet.Local. 5 IN A 10.1.0.10")}},
	{Qname: "WEB.shop.svc.CLUSTERSET.local.", Qtype: dns.TypeA,
		Answer: []dns.RR{test.A("WEB.shop.svc.CLUSTERSET.local. 5 IN A 10.42.0.1")}},
}

func TestServeDNS(t *testing.T) {
	m := syncedPlugin()
	load(t, m, clusterSet()...)
	ctx := context.TODO()
	for _, tc := range dnsTestCases {
		t.Run(dns.TypeToString[tc.Qtype]+" "+tc.Qname, func(t *testing.T) {
			w := dnstest.NewRecorder(&test.ResponseWriter{})
			if _, err := m.ServeDNS(ctx, w, tc.Msg()); err != nil {
				t.Fatalf("ServeDNS: %v", err)
			}
			if w.Msg == nil {
				t.Fatal("no answer written")
			}
			if !w.Msg.Authoritative {
				t.Error("answer is not authoritative")
			}
			if err := test.SortAndCheck(w.Msg, tc); err != nil {
				t.Error(err)
			}
			for _, rr := range w.Msg.Ns {
				if rr.Header().Ttl != 5 {
					t.Errorf("negative TTL %d, want the SOA TTL 5 (RFC 2308)", rr.Header().Ttl)
				}
			}
		})
	}
}
