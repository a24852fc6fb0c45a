package multicluster

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/mcs-dns/multicluster/internal/object"
	"github.com/mcs-dns/multicluster/internal/zone"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"
)

// Objects shaped like what the MCS implementations write (see internal/object/compat.go for the
// source files they follow); test/e2e/impl_fixtures_test.go has the complete objects.

// lighthouseImport is an aggregated ServiceImport as Lighthouse syncs it to the service's
// namespace (pkg/agent/controller/service_import.go Distribute/onRemoteServiceImport):
// v1alpha1, no ips unless a clusterset IP is enabled, headless with ports: [].
func lighthouseImport(ns, name string, headless bool, clusters []string, ports ...mcsv1alpha1.ServicePort) *mcsv1alpha1.ServiceImport {
	si := alphaImport(ns, name)
	si.Spec.IPs = nil
	si.Spec.Ports = append([]mcsv1alpha1.ServicePort{}, ports...)
	si.Annotations = map[string]string{"lighthouse.submariner.io/use-clusterset-ip": "false"}
	if headless {
		si.Spec.Type = mcsv1alpha1.Headless
	}
	for _, c := range clusters {
		si.Status.Clusters = append(si.Status.Clusters, mcsv1alpha1.ClusterStatus{Cluster: c})
	}
	return si
}

// lighthouseLocalImport is the per-cluster ServiceImport an exporting cluster keeps in
// the Submariner namespace (pkg/agent/controller/agent.go newServiceImport).
func lighthouseLocalImport(svc, ns, cluster, vip string) *mcsv1alpha1.ServiceImport {
	si := alphaImport("submariner-operator", svc+"-"+ns+"-"+cluster, vip)
	si.Labels = map[string]string{
		object.LabelServiceName:                    svc,
		"lighthouse.submariner.io/sourceNamespace": ns,
		object.LabelSourceCluster:                  cluster,
	}
	return si
}

// lighthouseLegacyImport is a per-cluster ServiceImport of Lighthouse <= 0.14
// (pkg/agent/controller/service_import_migration_test.go newLegacyServiceImport).
func lighthouseLegacyImport(svc, ns, cluster, vip string) *mcsv1alpha1.ServiceImport {
	si := alphaImport("submariner-operator", svc+"-"+ns+"-"+cluster, vip)
	si.Labels = map[string]string{
		"lighthouse.submariner.io/sourceName":      svc,
		"lighthouse.submariner.io/sourceNamespace": ns,
		object.LabelLighthouseLegacyCluster:        cluster,
	}
	si.Annotations = map[string]string{object.AnnotationLighthouseOriginName: svc, "origin-namespace": ns}
	return si
}

// lighthouseVIPSlice is the slice one cluster exports for a ClusterSetIP service: its
// Service VIP as the only endpoint, ready while a backend is ready
// (pkg/agent/controller/service_endpoint_slices.go clusterIPEndpointSliceFrom).
func lighthouseVIPSlice(ns, svc, cluster, vip string, isReady bool, ports []epPort) *discovery.EndpointSlice {
	e := explicitlyReady("", vip)
	if !isReady {
		e = notReady("", vip)
	}
	s := slice(ns, svc+"-"+cluster, svc, cluster, ipv4, ports, e)
	s.Labels["lighthouse.submariner.io/sourceNamespace"] = ns
	s.Labels["lighthouse.submariner.io/is-headless"] = "false"
	s.Labels[discovery.LabelManagedBy] = "lighthouse-agent.submariner.io"
	return s
}

// awsImport is the v1alpha1 ServiceImport of the AWS Cloud Map controller
// (pkg/controllers/multicluster/utils.go CreateServiceImportStruct; ips are the
// derived Services' ClusterIPs, in map order, "None" for headless ones).
func awsImport(ns, name string, headless bool, ips []string, clusters ...string) *mcsv1alpha1.ServiceImport {
	si := alphaImport(ns, name, ips...)
	si.Annotations = map[string]string{"multicluster.k8s.aws/derived-service": "[]"}
	if headless {
		si.Spec.Type = mcsv1alpha1.Headless
	}
	for _, c := range clusters {
		si.Status.Clusters = append(si.Status.Clusters, mcsv1alpha1.ClusterStatus{Cluster: c})
	}
	return si
}

func active(s *discovery.EndpointSlice, v string) *discovery.EndpointSlice {
	s.Labels[object.LabelActive] = v
	return s
}

// loadWith is load with import options.
func loadWith(t testing.TB, m *MultiCluster, o object.ImportOptions, objs ...any) {
	t.Helper()
	imports := map[object.ServiceKey]*object.ServiceImport{}
	byService := map[object.ServiceKey][]*object.EndpointSlice{}
	for _, obj := range objs {
		if es, ok := obj.(*discovery.EndpointSlice); ok {
			tr, _ := object.TransformSlice(es)
			s := tr.(*object.EndpointSlice)
			byService[object.ServiceKey{Namespace: s.Namespace, Name: s.Service}] = append(byService[object.ServiceKey{Namespace: s.Namespace, Name: s.Service}], s)
			continue
		}
		tr, _ := o.Transform(obj)
		si, ok := tr.(*object.ServiceImport)
		if !ok {
			t.Fatalf("unexpected object %T", obj)
		}
		imports[object.ServiceKey{Namespace: si.Namespace, Name: si.Name}] = si
	}
	for k, si := range imports {
		m.index.Publish(k, zone.Build(si, byService[k], m.longestZone(), func(string, string) {}))
	}
}

func serve(t *testing.T, m *MultiCluster, cases []test.Case) {
	t.Helper()
	for _, tc := range cases {
		t.Run(dns.TypeToString[tc.Qtype]+" "+tc.Qname, func(t *testing.T) {
			w := dnstest.NewRecorder(&test.ResponseWriter{})
			if _, err := m.ServeDNS(context.TODO(), w, tc.Msg()); err != nil {
				t.Fatalf("ServeDNS: %v", err)
			}
			if err := test.SortAndCheck(w.Msg, tc); err != nil {
				t.Error(err)
			}
		})
	}
}

var pgPorts = []epPort{{"pg", tcp, 5432}}

// lighthouseClusterSet is what a Lighthouse cluster "east" that exports web and db
// holds, with clusters west (exporting) and north (legacy, <= 0.14).
func lighthouseClusterSet() []any {
	http := []epPort{{"http", tcp, 80}}
	return []any{
		lighthouseImport("shop", "web", false, []string{"east", "west"},
			mcsv1alpha1.ServicePort{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80}),
		lighthouseVIPSlice("shop", "web", "east", "10.96.1.10", true, http),
		lighthouseVIPSlice("shop", "web", "west", "10.97.1.10", false, http),
		lighthouseLocalImport("web", "shop", "east", "10.96.1.10"),
		lighthouseLegacyImport("web", "shop", "north", "10.98.1.10"),

		lighthouseImport("shop", "db", true, []string{"east", "west"}),
		slice("shop", "db-east", "db", "east", ipv4, pgPorts, ready("db-0", "10.1.0.10")),
		slice("shop", "db-west", "db", "west", ipv4, pgPorts, ready("db-0", "10.2.0.10")),
		lighthouseLocalImport("db", "shop", "east", ""),
	}
}

// TestBookkeepingImports: per-cluster copies of imports create no names (issue 8.1).
func TestBookkeepingImports(t *testing.T) {
	m := syncedPlugin()
	load(t, m, lighthouseClusterSet()...)
	serve(t, m, []test.Case{
		nxdomain("web-shop-east.submariner-operator.svc.clusterset.local.", dns.TypeA),
		nxdomain("web-shop-north.submariner-operator.svc.clusterset.local.", dns.TypeA),
		nxdomain("db-shop-east.submariner-operator.svc.clusterset.local.", dns.TypeA),
		nxdomain("submariner-operator.svc.clusterset.local.", dns.TypeA),
		nodata("shop.svc.clusterset.local.", dns.TypeA),
	})
}

// TestHeadlessPortsFromSlices: a headless import with ports: [] takes its named SRV
// ports from the slices (spec R7; issue 8.2).
func TestHeadlessPortsFromSlices(t *testing.T) {
	m := syncedPlugin()
	load(t, m, lighthouseClusterSet()...)
	serve(t, m, []test.Case{
		{Qname: "_pg._tcp.db.shop.svc.clusterset.local.", Qtype: dns.TypeSRV,
			Answer: []dns.RR{
				test.SRV("_pg._tcp.db.shop.svc.clusterset.local. 5 IN SRV 0 50 5432 db-0.east.db.shop.svc.clusterset.local."),
				test.SRV("_pg._tcp.db.shop.svc.clusterset.local. 5 IN SRV 0 50 5432 db-0.west.db.shop.svc.clusterset.local."),
			},
			Extra: []dns.RR{
				test.A("db-0.east.db.shop.svc.clusterset.local. 5 IN A 10.1.0.10"),
				test.A("db-0.west.db.shop.svc.clusterset.local. 5 IN A 10.2.0.10"),
			}},
		nxdomain("_http._tcp.db.shop.svc.clusterset.local.", dns.TypeSRV),
	})
}

// TestVIPsFromSlices: Lighthouse's ClusterSetIP imports carry no ips; by default the
// name answers NODATA (spec R2), with vips_from_slices the ready VIPs of the slices
// (issue 8.3).
func TestVIPsFromSlices(t *testing.T) {
	m := syncedPlugin()
	load(t, m, lighthouseClusterSet()...)
	serve(t, m, []test.Case{
		nodata("web.shop.svc.clusterset.local.", dns.TypeA),
	})

	m = syncedPlugin()
	loadWith(t, m, object.ImportOptions{VIPsFromSlices: true}, lighthouseClusterSet()...)
	serve(t, m, []test.Case{
		{Qname: "web.shop.svc.clusterset.local.", Qtype: dns.TypeA,
			Answer: []dns.RR{test.A("web.shop.svc.clusterset.local. 5 IN A 10.96.1.10")}},
		nodata("web.shop.svc.clusterset.local.", dns.TypeAAAA),
		{Qname: "_http._tcp.web.shop.svc.clusterset.local.", Qtype: dns.TypeSRV,
			Answer: []dns.RR{test.SRV("_http._tcp.web.shop.svc.clusterset.local. 5 IN SRV 0 100 80 web.shop.svc.clusterset.local.")},
			Extra:  []dns.RR{test.A("web.shop.svc.clusterset.local. 5 IN A 10.96.1.10")}},
		// Not a headless service: no per-endpoint names.
		nxdomain("10-96-1-10.east.web.shop.svc.clusterset.local.", dns.TypeA),
		nxdomain("web-shop-east.submariner-operator.svc.clusterset.local.", dns.TypeA),
	})
	// An import with ips keeps them: the option only fills in missing ones.
	loadWith(t, m, object.ImportOptions{VIPsFromSlices: true}, alphaImport("legacy", "old", "10.42.1.1"),
		slice("legacy", "old-east", "old", "east", ipv4, nil, ready("", "10.99.0.1")))
	serve(t, m, []test.Case{
		{Qname: "old.legacy.svc.clusterset.local.", Qtype: dns.TypeA,
			Answer: []dns.RR{test.A("old.legacy.svc.clusterset.local. 5 IN A 10.42.1.1")}},
	})

	// A second cluster's backend becomes ready: both VIPs, and the answers change.
	objs := lighthouseClusterSet()
	objs[2] = lighthouseVIPSlice("shop", "web", "west", "10.97.1.10", true, []epPort{{"http", tcp, 80}})
	before := m.index.Lookup("shop", "web").Digest()
	loadWith(t, m, object.ImportOptions{VIPsFromSlices: true}, objs...)
	if m.index.Lookup("shop", "web").Digest() == before {
		t.Error("digest did not change when a cluster's VIP became ready")
	}
	serve(t, m, []test.Case{
		{Qname: "web.shop.svc.clusterset.local.", Qtype: dns.TypeA,
			Answer: []dns.RR{
				test.A("web.shop.svc.clusterset.local. 5 IN A 10.96.1.10"),
				test.A("web.shop.svc.clusterset.local. 5 IN A 10.97.1.10"),
			}},
	})
}

// TestSliceVIPsByCluster: the addresses keep their source cluster, so that the subset
// of one cluster can be derived; duplicated slices collapse.
func TestSliceVIPsByCluster(t *testing.T) {
	objs := []any{
		lighthouseImport("shop", "web", false, nil),
		lighthouseVIPSlice("shop", "web", "west", "10.97.1.10", true, nil),
		lighthouseVIPSlice("shop", "web", "east", "10.96.1.10", true, nil),
		lighthouseVIPSlice("shop", "web", "north", "10.98.1.10", false, nil),
	}
	// Lighthouse may hold two slices for a cluster during an upgrade.
	dup := lighthouseVIPSlice("shop", "web", "east", "10.96.1.10", true, nil)
	dup.Name += "-old"
	objs = append(objs, dup)
	tr, _ := object.ImportOptions{VIPsFromSlices: true}.Transform(objs[0])
	si := tr.(*object.ServiceImport)
	var eps []*object.EndpointSlice
	for _, o := range objs[1:] {
		s, _ := object.TransformSlice(o)
		eps = append(eps, s.(*object.EndpointSlice))
	}
	got := zone.SliceVIPs(si, eps)
	want := []zone.ClusterAddrs{
		{Cluster: "east", Addrs: []netip.Addr{netip.MustParseAddr("10.96.1.10")}},
		{Cluster: "west", Addrs: []netip.Addr{netip.MustParseAddr("10.97.1.10")}},
	}
	if !slices.EqualFunc(got, want, func(a, b zone.ClusterAddrs) bool { return a.Cluster == b.Cluster && slices.Equal(a.Addrs, b.Addrs) }) {
		t.Errorf("sliceVIPs = %v, want %v", got, want)
	}
}

// TestAWSImports: every VIP of more than two clusters is served; "None" ips of headless
// imports are dropped without being reported as malformed (issue 8.4).
func TestAWSImports(t *testing.T) {
	objs := []any{
		awsImport("shop", "web", false, []string{"10.100.3.3", "10.100.1.1", "10.100.2.2"}, "c1"),
		awsImport("shop", "db", true, []string{"None", "None"}, "c1", "c2"),
		slice("shop", "imported-aaaa-x1", "db", "c1", ipv4, pgPorts, ready("db-0", "10.1.0.10")),
		slice("shop", "imported-bbbb-x2", "db", "c2", ipv4, pgPorts, ready("db-0", "10.2.0.10")),
	}
	tr, _ := object.TransformImport(objs[1])
	if bad := tr.(*object.ServiceImport).Bad; len(bad) != 0 {
		t.Errorf("headless import with ips None reported %v", bad)
	}
	tr, _ = object.TransformImport(alphaImport("shop", "x", "None", "300.1.1.1"))
	if bad := tr.(*object.ServiceImport).Bad; len(bad) != 1 || bad[0].Value != "300.1.1.1" {
		t.Errorf("malformed ips reported as %v, want only 300.1.1.1", bad)
	}
	m := syncedPlugin()
	load(t, m, objs...)
	serve(t, m, []test.Case{
		{Qname: "web.shop.svc.clusterset.local.", Qtype: dns.TypeA,
			Answer: []dns.RR{
				test.A("web.shop.svc.clusterset.local. 5 IN A 10.100.1.1"),
				test.A("web.shop.svc.clusterset.local. 5 IN A 10.100.2.2"),
				test.A("web.shop.svc.clusterset.local. 5 IN A 10.100.3.3"),
			}},
		{Qname: "db.shop.svc.clusterset.local.", Qtype: dns.TypeA,
			Answer: []dns.RR{
				test.A("db.shop.svc.clusterset.local. 5 IN A 10.1.0.10"),
				test.A("db.shop.svc.clusterset.local. 5 IN A 10.2.0.10"),
			}},
	})
}

// TestActiveLabel: slices labelled multicluster.kubernetes.io/active=false are not
// served; "true" and absent are (KEP-5939; issue 8.5).
func TestActiveLabel(t *testing.T) {
	m := syncedPlugin()
	load(t, m,
		headlessImport("shop", "db", nil, sp("pg", tcp, 5432)),
		active(slice("shop", "db-east", "db", "east", ipv4, pgPorts, ready("db-0", "10.1.0.10")), "true"),
		active(slice("shop", "db-west", "db", "west", ipv4, pgPorts, ready("db-0", "10.2.0.10")), "false"),
		slice("shop", "db-north", "db", "north", ipv4, pgPorts, ready("db-0", "10.3.0.10")),
		headlessImport("shop", "off", nil),
		active(slice("shop", "off-east", "off", "east", ipv4, pgPorts, ready("a", "10.4.0.10")), "false"),
	)
	serve(t, m, []test.Case{
		{Qname: "db.shop.svc.clusterset.local.", Qtype: dns.TypeA,
			Answer: []dns.RR{
				test.A("db.shop.svc.clusterset.local. 5 IN A 10.1.0.10"),
				test.A("db.shop.svc.clusterset.local. 5 IN A 10.3.0.10"),
			}},
		nxdomain("db-0.west.db.shop.svc.clusterset.local.", dns.TypeA),
		nxdomain("off.shop.svc.clusterset.local.", dns.TypeA),
	})
}

// TestStatusClusters: a slice from a cluster that status.clusters does not list is
// served and counted; an import without status.clusters counts nothing (issue 8.6).
func TestStatusClusters(t *testing.T) {
	before := counterValue(t, unlistedSlices)
	m := syncedPlugin()
	load(t, m,
		awsImport("shop", "db", true, nil, "c1"),
		slice("shop", "db-c1", "db", "c1", ipv4, pgPorts, ready("db-0", "10.1.0.10")),
		slice("shop", "db-c2", "db", "c2", ipv4, pgPorts, ready("db-0", "10.2.0.10")),
		headlessImport("shop", "nostatus", nil),
		slice("shop", "nostatus-c3", "nostatus", "c3", ipv4, pgPorts, ready("a", "10.3.0.10")),
	)
	serve(t, m, []test.Case{
		{Qname: "db-0.c2.db.shop.svc.clusterset.local.", Qtype: dns.TypeA,
			Answer: []dns.RR{test.A("db-0.c2.db.shop.svc.clusterset.local. 5 IN A 10.2.0.10")}},
		{Qname: "a.c3.nostatus.shop.svc.clusterset.local.", Qtype: dns.TypeA,
			Answer: []dns.RR{test.A("a.c3.nostatus.shop.svc.clusterset.local. 5 IN A 10.3.0.10")}},
	})
	if d := counterValue(t, unlistedSlices) - before; d != 1 {
		t.Errorf("unlisted_cluster_slices_total moved by %v, want 1", d)
	}
}

// TestImportNamesNotLabels: names the API server accepts but DNS cannot carry are
// skipped with a reason, and the zone still transfers (issue 7.5).
func TestImportNamesNotLabels(t *testing.T) {
	long := strings.Repeat("a", 70)
	for _, name := range []string{long, "a.b", "web"} {
		tr, _ := object.TransformImport(clusterSetIP("shop", name, []string{"10.0.0.1"}, nil))
		si := tr.(*object.ServiceImport)
		bad := len(si.Bad) == 1 && si.Bad[0].Reason == object.ReasonBadName && si.Ignored
		if want := name != "web"; bad != want {
			t.Errorf("%q: ignored %v, bad %v; want skipped %v", name, si.Ignored, si.Bad, want)
		}
	}
	m := syncedPlugin()
	load(t, m,
		clusterSetIP("shop", long, []string{"10.0.0.1"}, nil),
		clusterSetIP("other", "a.b", []string{"10.0.0.2"}, nil),
		clusterSetIP("shop", "web", []string{"10.0.0.3"}, nil),
	)
	serve(t, m, []test.Case{
		nxdomain("a.b.other.svc.clusterset.local.", dns.TypeA),
		nxdomain("other.svc.clusterset.local.", dns.TypeA),
		{Qname: "web.shop.svc.clusterset.local.", Qtype: dns.TypeA,
			Answer: []dns.RR{test.A("web.shop.svc.clusterset.local. 5 IN A 10.0.0.3")}},
	})
	rrs := transferAll(t, m, "clusterset.local.", 0)
	msg := new(dns.Msg)
	msg.Answer = rrs
	if _, err := msg.Pack(); err != nil {
		t.Fatalf("AXFR does not pack: %v", err)
	}
	for _, rr := range rrs {
		if strings.Contains(rr.Header().Name, "a.b.") || strings.Contains(rr.Header().Name, long) {
			t.Errorf("AXFR has %s", rr.Header().Name)
		}
	}
}

// TestServiceNameTooLongForZone: a service name that does not fit under a long zone is
// skipped, not served with a name that cannot be packed.
func TestServiceNameTooLongForZone(t *testing.T) {
	apex := strings.Repeat(strings.Repeat("z", 60)+".", 3)
	si, _ := object.TransformImport(clusterSetIP(strings.Repeat("n", 63), strings.Repeat("s", 63), []string{"10.0.0.1"}, nil))
	var reasons []string
	if r := zone.Build(si.(*object.ServiceImport), nil, len(apex), func(reason, _ string) { reasons = append(reasons, reason) }); r != nil {
		t.Error("records built for a name longer than 253 characters")
	}
	if !slices.Equal(reasons, []string{object.ReasonLongName}) {
		t.Errorf("reasons %v", reasons)
	}
}

// TestInvalidHostnameKeepsAddress: an endpoint whose hostname is not a label keeps its
// address at the service name and in SRV, under its address-derived name (issue 7.6).
func TestInvalidHostnameKeepsAddress(t *testing.T) {
	m := syncedPlugin()
	load(t, m,
		headlessImport("shop", "db", nil, sp("pg", tcp, 5432)),
		slice("shop", "db-east", "db", "east", ipv4, pgPorts, ready("Bad_Host", "10.1.0.10"), ready("db-1", "10.1.0.11")),
	)
	serve(t, m, []test.Case{
		{Qname: "db.shop.svc.clusterset.local.", Qtype: dns.TypeA,
			Answer: []dns.RR{
				test.A("db.shop.svc.clusterset.local. 5 IN A 10.1.0.10"),
				test.A("db.shop.svc.clusterset.local. 5 IN A 10.1.0.11"),
			}},
		{Qname: "_pg._tcp.db.shop.svc.clusterset.local.", Qtype: dns.TypeSRV,
			Answer: []dns.RR{
				test.SRV("_pg._tcp.db.shop.svc.clusterset.local. 5 IN SRV 0 50 5432 10-1-0-10.east.db.shop.svc.clusterset.local."),
				test.SRV("_pg._tcp.db.shop.svc.clusterset.local. 5 IN SRV 0 50 5432 db-1.east.db.shop.svc.clusterset.local."),
			},
			Extra: []dns.RR{
				test.A("10-1-0-10.east.db.shop.svc.clusterset.local. 5 IN A 10.1.0.10"),
				test.A("db-1.east.db.shop.svc.clusterset.local. 5 IN A 10.1.0.11"),
			}},
		nxdomain("bad_host.east.db.shop.svc.clusterset.local.", dns.TypeA),
	})
	tr, _ := object.TransformSlice(slice("shop", "x", "db", "east", ipv4, nil, ready("Bad_Host", "10.1.0.10")))
	if bad := tr.(*object.EndpointSlice).Bad; len(bad) != 1 || bad[0].Reason != object.ReasonBadHostname {
		t.Errorf("invalid hostname reported as %v", bad)
	}
}

// TestCiliumImports: Cilium's v1beta1 imports carry the local derived Service's VIP, and
// the EndpointSlices both MCS labels plus kubernetes.io/service-name of the derived
// Service (pkg/clustermesh/mcsapi/service_controller.go); a ClusterSetIP import with
// status.endpointSliceObjects Absent has no slices and keeps its VIP.
func TestCiliumImports(t *testing.T) {
	web := clusterSetIP("shop", "web", []string{"10.96.5.5"}, families(v4), sp("http", tcp, 80))
	web.Status.EndpointSliceObjects = mcsv1beta1.EndpointSliceObjectsAbsent
	web.Status.Clusters = []mcsv1beta1.ClusterStatus{{Cluster: "east"}, {Cluster: "west"}}
	db := headlessImport("shop", "db", families(v4), sp("pg", tcp, 5432))
	db.Status.EndpointSliceObjects = mcsv1beta1.EndpointSliceObjectsPresent
	es := slice("shop", "derived-abc-east", "db", "east", ipv4, pgPorts, ready("db-0", "10.1.0.10"))
	es.Labels[discovery.LabelServiceName] = "derived-abcdefghij"
	m := syncedPlugin()
	load(t, m, web, db, es)
	serve(t, m, []test.Case{
		{Qname: "web.shop.svc.clusterset.local.", Qtype: dns.TypeA,
			Answer: []dns.RR{test.A("web.shop.svc.clusterset.local. 5 IN A 10.96.5.5")}},
		{Qname: "db-0.east.db.shop.svc.clusterset.local.", Qtype: dns.TypeA,
			Answer: []dns.RR{test.A("db-0.east.db.shop.svc.clusterset.local. 5 IN A 10.1.0.10")}},
		nxdomain("derived-abcdefghij.shop.svc.clusterset.local.", dns.TypeA),
	})
}

// TestControllerVIPsFromSlices: with the option the controller reads imports through
// it and rebuilds a ClusterSetIP service when one of its slices changes.
func TestControllerVIPsFromSlices(t *testing.T) {
	f := newFakeCluster("v1alpha1")
	ctx := context.TODO()
	if _, err := f.mcs.MulticlusterV1alpha1().ServiceImports("shop").Create(ctx,
		lighthouseImport("shop", "web", false, []string{"east"}, mcsv1alpha1.ServicePort{Name: "http", Protocol: tcp, Port: 80}),
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	m := New([]string{"clusterset.local."})
	m.imports.VIPsFromSlices = true
	m.ctrl = newController(f.kube, f.mcs, m.index, m.longestZone())
	m.ctrl.watch.Imports = m.imports
	m.ctrl.start()
	t.Cleanup(m.ctrl.stop)
	m.ctrl.waitSettled(5 * time.Second)
	const web = "web.shop.svc.clusterset.local."
	eventually(t, "NODATA before any slice", answers(t, m, web, dns.TypeA, dns.RcodeSuccess))
	es := lighthouseVIPSlice("shop", "web", "east", "10.96.1.10", true, []epPort{{"http", tcp, 80}})
	if _, err := f.kube.DiscoveryV1().EndpointSlices("shop").Create(ctx, es, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the slice's VIP", answers(t, m, web, dns.TypeA, dns.RcodeSuccess, "10.96.1.10"))
}
