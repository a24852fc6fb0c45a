package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/mcs-dns/multicluster/test/controlplane"
	"github.com/mcs-dns/multicluster/test/internal/harness"
	discovery "k8s.io/api/discovery/v1"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"
)

// Per-implementation fixtures (impl_fixtures.go): what each MCS implementation writes,
// and the answers dig gets for every spec row the fixture exercises.

func srvData(port int, target string) string { return fmt.Sprintf("SRV %d %s", port, target) }

// TestCompatCilium: a Cilium cluster "east" that imports web (ClusterSetIP, exported by
// west and north) and db (headless, exported by west), and also exports db itself
// (the exporting-consumer variant: its own slice comes from kube-controller-manager
// with the derived Service's labels).
func TestCompatCilium(t *testing.T) {
	s := need(t)
	dumpLogOnFailure(t, s.dns)
	ctx, c, ns, p := context.Background(), s.clients, "compat-cilium", s.port
	mustNamespace(t, c, ns)
	web, err := c.CiliumImport(ctx, ns, "web", "east", false, []string{"north", "west"}, harness.TCP("http", 80))
	if err != nil {
		t.Fatal(err)
	}
	db, err := c.CiliumImport(ctx, ns, "db", "east", true, []string{"east", "west"}, harness.TCP("pg", 5432))
	if err != nil {
		t.Fatal(err)
	}
	pg := []harness.Port{harness.TCP("pg", 5432)}
	for _, es := range []*discovery.EndpointSlice{
		CiliumRemoteSlice(ns, "db", db.Name, "west", pg,
			podEndpoint(ns, "db-0", "db-0", "10.20.0.10", true), podEndpoint(ns, "db-1", "db-1", "10.20.0.11", false)),
		CiliumLocalSlice(ns, "db", db.Name, "east", pg, podEndpoint(ns, "db-0", "db-0", "10.10.0.10", true)),
		// The exported Service's own slice in this cluster: no MCS label, not served.
		LocalServiceSlice(ns, "db", pg, podEndpoint(ns, "db-0", "db-0", "10.10.0.10", true)),
	} {
		if _, err := c.CreateEndpointSlice(ctx, es); err != nil {
			t.Fatal(err)
		}
	}
	vip := web.Spec.ClusterIP
	eventually(t, p, fq("db-0.west", "db", ns), "A", want{answer: []string{"A 10.20.0.10"}}, freshness)
	expectRows(t, p, []row{
		// R2: the derived Service's ClusterIP is the import's VIP.
		{fq("", "web", ns), "A", want{answer: []string{"A " + vip}}},
		{fq("", "web", ns), "AAAA", want{}},
		// R3, R4.
		{fq("_http._tcp", "web", ns), "SRV", want{answer: []string{srvData(80, fq("", "web", ns))}, extra: []string{fq("", "web", ns) + " A " + vip}}},
		{fq("", "web", ns), "SRV", want{answer: []string{srvData(80, fq("", "web", ns))}}},
		// The derived Service is a local Service, not a ClusterSet name.
		{fq("", web.Name, ns), "A", want{rcode: "NXDOMAIN"}},
		// R5: both clusters' ready endpoints; R6 with each cluster id; R7, R8.
		{fq("", "db", ns), "A", want{answer: []string{"A 10.10.0.10", "A 10.20.0.10"}}},
		{fq("db-0.east", "db", ns), "A", want{answer: []string{"A 10.10.0.10"}}},
		{fq("db-1.west", "db", ns), "A", want{rcode: "NXDOMAIN"}},
		{fq("_pg._tcp", "db", ns), "SRV", want{answer: []string{
			srvData(5432, fq("db-0.east", "db", ns)), srvData(5432, fq("db-0.west", "db", ns))}}},
		{fq("", "db", ns), "SRV", want{answer: []string{
			srvData(5432, fq("db-0.east", "db", ns)), srvData(5432, fq("db-0.west", "db", ns))}}},
		// R9.
		{fq("west", "db", ns), "A", want{}},
		{fq("", db.Name, ns), "A", want{rcode: "NXDOMAIN"}},
	})
}

// TestCompatLighthouse: a Lighthouse cluster "east" holding the aggregated imports of web
// (ClusterSetIP, exported by east and west) and db (headless, exported by west), its own
// per-cluster bookkeeping imports as an exporting cluster, and the per-cluster imports
// of a legacy (<= 0.14) cluster "north".
func TestCompatLighthouse(t *testing.T) {
	s := need(t)
	dumpLogOnFailure(t, s.dns)
	ctx, c, ns, p := context.Background(), s.clients, "compat-lh", s.port
	mustNamespace(t, c, ns)
	if err := c.Namespace(ctx, SubmarinerNamespace); err != nil {
		t.Logf("namespace %s: %v", SubmarinerNamespace, err)
	}
	http, pg := []harness.Port{harness.TCP("http", 80)}, []harness.Port{harness.TCP("pg", 5432)}
	for _, si := range []any{
		LighthouseImport(ns, "web", false, []string{"east", "west"}, http...),
		LighthouseImport(ns, "db", true, []string{"west"}),
		LighthouseLocalImport("web", ns, "east", false, "10.96.30.1", http...),
		LighthouseLegacyImport("web", ns, "north", "10.98.30.1", http...),
	} {
		imp := si.(*mcsv1alpha1.ServiceImport)
		if err := c.CreateAlphaImport(ctx, imp); err != nil {
			t.Fatal(err)
		}
		if imp.Namespace == SubmarinerNamespace {
			// Later tests count the ServiceImports in the API against the ones served;
			// bookkeeping imports are rightly not served.
			t.Cleanup(func() { _ = c.DeleteImport(context.Background(), imp.Namespace, imp.Name) })
		}
	}
	for _, es := range []*discovery.EndpointSlice{
		LighthouseVIPSlice(ns, "web", "east", "10.96.30.1", true, http...),
		LighthouseVIPSlice(ns, "web", "west", "10.97.30.1", true, http...),
		LighthouseHeadlessSlice(ns, "db", "west", "db-abcde", pg,
			podEndpoint(ns, "db-0", "db-0", "10.20.30.10", true), podEndpoint(ns, "db-1", "db-1", "10.20.30.11", true)),
		// A second copy of the same slice, as an agent upgrade can leave behind: every
		// answer below must still list each record once.
		LighthouseHeadlessSlice(ns, "db", "west", "db-abcde", pg,
			podEndpoint(ns, "db-0", "db-0", "10.20.30.10", true), podEndpoint(ns, "db-1", "db-1", "10.20.30.11", true)),
	} {
		if _, err := c.CreateEndpointSlice(ctx, es); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, p, fq("db-0.west", "db", ns), "A", want{answer: []string{"A 10.20.30.10"}}, freshness)
	expectRows(t, p, []row{
		// R2 without ips: NODATA by default (vips_from_slices serves the slices' VIPs).
		{fq("", "web", ns), "A", want{}},
		// ... and no SRV records, whose target would have no address.
		{fq("_http._tcp", "web", ns), "SRV", want{rcode: "NXDOMAIN"}},
		// R5-R8 for a headless import with ports: []: SRV ports come from the slices.
		{fq("", "db", ns), "A", want{answer: []string{"A 10.20.30.10", "A 10.20.30.11"}}},
		{fq("db-1.west", "db", ns), "A", want{answer: []string{"A 10.20.30.11"}}},
		{fq("_pg._tcp", "db", ns), "SRV", want{answer: []string{
			srvData(5432, fq("db-0.west", "db", ns)), srvData(5432, fq("db-1.west", "db", ns))},
			extra: []string{fq("db-0.west", "db", ns) + " A 10.20.30.10", fq("db-1.west", "db", ns) + " A 10.20.30.11"}}},
		{fq("", "db", ns), "SRV", want{answer: []string{
			srvData(5432, fq("db-0.west", "db", ns)), srvData(5432, fq("db-1.west", "db", ns))}}},
		// Bookkeeping imports, current and legacy, create no names.
		{fq("", "web-"+ns+"-east", SubmarinerNamespace), "A", want{rcode: "NXDOMAIN"}},
		{fq("", "web-"+ns+"-north", SubmarinerNamespace), "A", want{rcode: "NXDOMAIN"}},
		{SubmarinerNamespace + ".svc." + Zone, "A", want{rcode: "NXDOMAIN"}},
	})
}

// TestCompatLighthouseVIPsFromSlices: with vips_from_slices, the aggregated ClusterSetIP
// import answers the VIPs of the clusters that have a ready backend, and follows them.
func TestCompatLighthouseVIPsFromSlices(t *testing.T) {
	s := need(t)
	ports, err := harness.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	port := ports[0]
	corefile := fmt.Sprintf(`.:%d {
    bind 127.0.0.1
    errors
    multicluster clusterset.local {
        kubeconfig %s
        vips_from_slices
    }
}
`, port, s.kubeconfig)
	startTestCoreDNS(t, port, corefile)
	ctx, c, ns := context.Background(), s.clients, "compat-lh-vips"
	mustNamespace(t, c, ns)
	http := []harness.Port{harness.TCP("http", 80)}
	if err := c.CreateAlphaImport(ctx, LighthouseImport(ns, "web", false, []string{"east", "west"}, http...)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateEndpointSlice(ctx, LighthouseVIPSlice(ns, "web", "east", "10.96.31.1", true, http...)); err != nil {
		t.Fatal(err)
	}
	west, err := c.CreateEndpointSlice(ctx, LighthouseVIPSlice(ns, "web", "west", "10.97.31.1", false, http...))
	if err != nil {
		t.Fatal(err)
	}
	web := fq("", "web", ns)
	eventually(t, port, web, "A", want{answer: []string{"A 10.96.31.1"}}, freshness)
	expectRows(t, port, []row{
		{web, "AAAA", want{}},
		{fq("_http._tcp", "web", ns), "SRV", want{answer: []string{srvData(80, web)}, extra: []string{web + " A 10.96.31.1"}}},
		{fq("10-96-31-1.east", "web", ns), "A", want{rcode: "NXDOMAIN"}},
	})
	west.Endpoints[0].Conditions.Ready = ptr(true)
	if err := c.UpdateEndpointSlice(ctx, west); err != nil {
		t.Fatal(err)
	}
	eventually(t, port, web, "A", want{answer: []string{"A 10.96.31.1", "A 10.97.31.1"}}, freshness)
}

// TestCompatAWS: the AWS Cloud Map controller's imports: three exporting clusters, so
// three VIPs (in the order the controller happened to write them); a headless import with
// ips ["None", "None"]; status.clusters written once, before cluster c3 joined.
// The AWS controller installs its own v1alpha1-only CRD, so this runs on a cluster of
// its own.
func TestCompatAWS(t *testing.T) {
	t.Parallel()
	need(t)
	x := startSecondary(t, controlplane.Options{CRDs: controlplane.OnlyV1alpha1}, true)
	ctx, c, ns := context.Background(), x.clients, "compat-aws"
	if err := UseAWSServiceImportCRD(ctx, x.cp.AdminConfig()); err != nil {
		t.Fatal(err)
	}
	x.startCoreDNS(t)
	dumpLogOnFailure(t, x.dns)
	p := x.port
	mustNamespace(t, c, ns)
	http, pg := []harness.Port{harness.TCP("http", 80)}, []harness.Port{harness.TCP("pg", 5432)}
	webs, err := c.AWSImport(ctx, ns, "web", false, []string{"c2", "c3", "c1"}, []string{"c1", "c2"}, http...)
	if err != nil {
		t.Fatal(err)
	}
	dbs, err := c.AWSImport(ctx, ns, "db", true, []string{"c1", "c3"}, []string{"c1"}, pg...)
	if err != nil {
		t.Fatal(err)
	}
	for _, es := range []*discovery.EndpointSlice{
		AWSSlice(webs["c1"], "web", "c1", http, AWSEndpoint("", "10.41.0.10", true)),
		AWSSlice(dbs["c1"], "db", "c1", pg, AWSEndpoint("db-0", "10.41.1.10", true)),
		AWSSlice(dbs["c3"], "db", "c3", pg, AWSEndpoint("", "10.43.1.10", true)),
	} {
		if _, err := c.CreateEndpointSlice(ctx, es); err != nil {
			t.Fatal(err)
		}
	}
	var vips []string
	for _, cl := range []string{"c1", "c2", "c3"} {
		vips = append(vips, "A "+webs[cl].Spec.ClusterIP)
	}
	eventually(t, p, fq("", "web", ns), "A", want{answer: vips}, freshness)
	expectRows(t, p, []row{
		{fq("", "web", ns), "SRV", want{answer: []string{srvData(80, fq("", "web", ns))}}},
		{fq("", "db", ns), "A", want{answer: []string{"A 10.41.1.10", "A 10.43.1.10"}}},
		{fq("db-0.c1", "db", ns), "A", want{answer: []string{"A 10.41.1.10"}}},
		// c3 is not in status.clusters: served all the same.
		{fq("10-43-1-10.c3", "db", ns), "A", want{answer: []string{"A 10.43.1.10"}}},
		{fq("_pg._tcp", "db", ns), "SRV", want{answer: []string{
			srvData(5432, fq("db-0.c1", "db", ns)), srvData(5432, fq("10-43-1-10.c3", "db", ns))}}},
		{fq("", dbs["c1"].Name, ns), "A", want{rcode: "NXDOMAIN"}},
	})
	if m := metrics(t, x.metricsP); m["coredns_multicluster_unlisted_cluster_slices_total"] < 1 {
		t.Errorf("unlisted_cluster_slices_total = %v, want at least 1", m["coredns_multicluster_unlisted_cluster_slices_total"])
	}
}

// TestCompatMCSAPI: the mcs-api demo's imports and copied slices, which carry no
// source-cluster label: the service name answers, per-endpoint names do not exist.
func TestCompatMCSAPI(t *testing.T) {
	s := need(t)
	dumpLogOnFailure(t, s.dns)
	ctx, c, ns, p := context.Background(), s.clients, "compat-mcsapi", s.port
	mustNamespace(t, c, ns)
	port80 := []harness.Port{harness.TCP("", 80)}
	if _, err := c.MCSAPIImport(ctx, ns, "serve", false, nil, port80...); err != nil {
		t.Fatal(err)
	}
	if _, err := c.MCSAPIImport(ctx, ns, "serve-with-vip", false, []string{"1.2.3.4"}, port80...); err != nil {
		t.Fatal(err)
	}
	hl, err := c.MCSAPIImport(ctx, ns, "serve-hl", true, nil, port80...)
	if err != nil {
		t.Fatal(err)
	}
	for _, es := range []*discovery.EndpointSlice{
		MCSAPISlice(ns, "serve", mcsDerivedName(ns, "serve"), "serve-7x9kq", port80, podEndpoint(ns, "serve-1", "", "10.30.0.1", true)),
		MCSAPISlice(ns, "serve-hl", hl.Name, "serve-hl-c1a2b", port80, podEndpoint(ns, "serve-hl-1", "", "10.30.1.1", true)),
		MCSAPISlice(ns, "serve-hl", hl.Name, "serve-hl-d3e4f", port80, podEndpoint(ns, "serve-hl-2", "", "10.31.1.1", true)),
	} {
		if _, err := c.CreateEndpointSlice(ctx, es); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, p, fq("", "serve-hl", ns), "A", want{answer: []string{"A 10.30.1.1", "A 10.31.1.1"}}, freshness)
	expectRows(t, p, []row{
		{fq("", "serve", ns), "A", want{}},
		{fq("", "serve-with-vip", ns), "A", want{answer: []string{"A 1.2.3.4"}}},
		// R4: the unnamed port at the service name; R3 needs a name.
		{fq("", "serve-with-vip", ns), "SRV", want{answer: []string{srvData(80, fq("", "serve-with-vip", ns))}}},
		{fq("10-30-1-1.c1", "serve-hl", ns), "A", want{rcode: "NXDOMAIN"}},
		{fq("", hl.Name, ns), "A", want{rcode: "NXDOMAIN"}},
	})
}
