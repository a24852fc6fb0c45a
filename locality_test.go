package multicluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	discovery "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"
)

// prefer sets spec.trafficDistribution on a ServiceImport.
func prefer(si *mcsv1beta1.ServiceImport, td string) *mcsv1beta1.ServiceImport {
	si.Spec.TrafficDistribution = &td
	return si
}

// localitySet: services in clusters east and west.us, with and without a preference.
func localitySet() []any {
	pg := []epPort{{"pg", tcp, 5432}}
	var objs []any
	for _, svc := range []struct{ name, td string }{
		{"db", "PreferClose"}, {"zone", "PreferSameZone"}, {"node", "PreferSameNode"},
		{"bogus", "Anywhere"}, {"plain", ""},
	} {
		si := headlessImport("shop", svc.name, nil, sp("pg", tcp, 5432))
		if svc.td != "" {
			prefer(si, svc.td)
		}
		objs = append(objs, si,
			slice("shop", svc.name+"-east", svc.name, "east", ipv4, pg, ready("db-0", "10.1.0.10"), ready("db-1", "10.1.0.11"), notReady("db-2", "10.1.0.12")),
			slice("shop", svc.name+"-east-v6", svc.name, "east", ipv6, pg, ready("db-0", "fd00:1::10")),
			slice("shop", svc.name+"-west", svc.name, "west.us", ipv4, pg, ready("db-0", "10.2.0.10")),
			slice("shop", svc.name+"-nolabel", svc.name, "", ipv4, pg, ready("", "10.9.0.1")))
	}
	// The local cluster has only not-ready endpoints: every cluster answers.
	objs = append(objs, prefer(headlessImport("shop", "away", nil, sp("pg", tcp, 5432)), "PreferClose"),
		slice("shop", "away-east", "away", "east", ipv4, pg, notReady("a", "10.1.1.1")),
		slice("shop", "away-west", "away", "west.us", ipv4, pg, ready("a", "10.2.1.1"), ready("b", "10.2.1.2")))
	// Every endpoint is local: nothing to narrow.
	objs = append(objs, prefer(headlessImport("shop", "home", nil), "PreferClose"),
		slice("shop", "home-east", "home", "east", ipv4, pg, ready("a", "10.1.2.1")))
	// A ClusterSetIP service has one VIP for every cluster: never narrowed.
	objs = append(objs, prefer(clusterSetIP("shop", "web", []string{"10.42.0.1"}, families(v4)), "PreferClose"))
	return objs
}

// counterValue reads a counter.
func counterValue(t testing.TB, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func a(name, addr string) dns.RR    { return test.A(name + " 5 IN A " + addr) }
func aaaa(name, addr string) dns.RR { return test.AAAA(name + " 5 IN AAAA " + addr) }

func svcName(svc string) string { return svc + ".shop.svc.clusterset.local." }

// allOf is the A answer of a service of localitySet that is not narrowed.
func allOf(svc string) test.Case {
	n := svcName(svc)
	return test.Case{Qname: n, Qtype: dns.TypeA, Answer: []dns.RR{
		a(n, "10.1.0.10"), a(n, "10.1.0.11"), a(n, "10.2.0.10"), a(n, "10.9.0.1")}}
}

// eastOf is the A answer of a service of localitySet narrowed to east.
func eastOf(svc string) test.Case {
	n := svcName(svc)
	return test.Case{Qname: n, Qtype: dns.TypeA, Answer: []dns.RR{a(n, "10.1.0.10"), a(n, "10.1.0.11")}}
}

func TestLocality(t *testing.T) {
	db := svcName("db")
	eastSRV := []test.Case{
		{Qname: db, Qtype: dns.TypeSRV,
			Answer: []dns.RR{
				test.SRV(db + " 5 IN SRV 0 50 5432 db-0.east." + db),
				test.SRV(db + " 5 IN SRV 0 50 5432 db-1.east." + db)},
			Extra: []dns.RR{a("db-0.east."+db, "10.1.0.10"), aaaa("db-0.east."+db, "fd00:1::10"), a("db-1.east."+db, "10.1.0.11")}},
		{Qname: "_pg._tcp." + db, Qtype: dns.TypeSRV,
			Answer: []dns.RR{
				test.SRV("_pg._tcp." + db + " 5 IN SRV 0 50 5432 db-0.east." + db),
				test.SRV("_pg._tcp." + db + " 5 IN SRV 0 50 5432 db-1.east." + db)},
			Extra: []dns.RR{a("db-0.east."+db, "10.1.0.10"), aaaa("db-0.east."+db, "fd00:1::10"), a("db-1.east."+db, "10.1.0.11")}},
	}
	// What is never narrowed, whatever the options.
	always := []test.Case{
		// Per-endpoint names name one endpoint of one cluster.
		{Qname: "db-0.west.us." + db, Qtype: dns.TypeA, Answer: []dns.RR{a("db-0.west.us."+db, "10.2.0.10")}},
		{Qname: "db-0.east." + db, Qtype: dns.TypeAAAA, Answer: []dns.RR{aaaa("db-0.east."+db, "fd00:1::10")}},
		{Qname: svcName("away"), Qtype: dns.TypeA, Answer: []dns.RR{a(svcName("away"), "10.2.1.1"), a(svcName("away"), "10.2.1.2")}},
		{Qname: svcName("home"), Qtype: dns.TypeA, Answer: []dns.RR{a(svcName("home"), "10.1.2.1")}},
		{Qname: svcName("web"), Qtype: dns.TypeA, Answer: []dns.RR{a(svcName("web"), "10.42.0.1")}},
	}
	cases := []struct {
		name      string
		cluster   string
		all       bool
		tests     []test.Case
		narrowing bool
	}{
		{"no local cluster", "", false, []test.Case{allOf("db"), allOf("zone"), allOf("plain")}, false},
		{"no local cluster, prefer_local", "", true, []test.Case{allOf("db"), allOf("plain")}, false},
		{"east", "east", false, append([]test.Case{
			eastOf("db"), eastOf("zone"), eastOf("node"), allOf("bogus"), allOf("plain"),
			// A and AAAA answer the same subset: east's only IPv6 endpoint.
			{Qname: db, Qtype: dns.TypeAAAA, Answer: []dns.RR{aaaa(db, "fd00:1::10")}},
		}, eastSRV...), true},
		{"east, prefer_local", "east", true, []test.Case{eastOf("db"), eastOf("bogus"), eastOf("plain")}, true},
		{"a cluster without endpoints", "north", true, []test.Case{allOf("db"), allOf("plain")}, false},
	}
	ctx := context.TODO()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := syncedPlugin()
			m.loc = newLocality(c.cluster, c.all)
			load(t, m, localitySet()...)
			before := counterValue(t, localityAnswers)
			for _, tc := range append(c.tests, always...) {
				w := dnstest.NewRecorder(&test.ResponseWriter{})
				if _, err := m.ServeDNS(ctx, w, tc.Msg()); err != nil {
					t.Fatalf("ServeDNS: %v", err)
				}
				if err := test.SortAndCheck(w.Msg, tc); err != nil {
					t.Errorf("%s %s: %v", dns.TypeToString[tc.Qtype], tc.Qname, err)
				}
			}
			if got := counterValue(t, localityAnswers) > before; got != c.narrowing {
				t.Errorf("locality_answers_total moved: %v, want %v", got, c.narrowing)
			}
		})
	}
}

// A zone transfer carries the narrowed RRsets, exactly what queries answer.
func TestLocalityTransfer(t *testing.T) {
	m := syncedPlugin()
	m.loc = newLocality("east", false)
	load(t, m, localitySet()...)
	ch, err := m.Transfer("clusterset.local.", 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rrs := range ch {
		for _, rr := range rrs {
			if rr.Header().Name == svcName("db") && rr.Header().Rrtype == dns.TypeA {
				got = append(got, rr.(*dns.A).A.String())
			}
		}
	}
	slices.Sort(got)
	if want := []string{"10.1.0.10", "10.1.0.11"}; !slices.Equal(got, want) {
		t.Errorf("AXFR has db A %v, want %v", got, want)
	}
}

// The ClusterProperty names the local cluster; creating, changing and deleting it
// rebuilds every service.
func TestClusterPropertyWatch(t *testing.T) {
	f := newFakeCluster("v1beta1")
	dyn, gvr := serveClusterProperty(f, "v1alpha1")

	m := startPluginWithClusterProperty(t, f, dyn)

	ctx := context.TODO()
	if _, err := f.mcs.MulticlusterV1beta1().ServiceImports("shop").Create(ctx, prefer(headlessImport("shop", "db", nil), "PreferClose"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, es := range []*discovery.EndpointSlice{
		slice("shop", "db-east", "db", "east", ipv4, tcp5432, ready("db-0", "10.1.0.10")),
		slice("shop", "db-west", "db", "west", ipv4, tcp5432, ready("db-0", "10.2.0.10")),
	} {
		if _, err := f.kube.DiscoveryV1().EndpointSlices("shop").Create(ctx, es, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "every cluster without a ClusterProperty", answers(t, m, dbName, dns.TypeA, dns.RcodeSuccess, "10.1.0.10", "10.2.0.10"))

	prop := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": clusterPropertyGroup + "/v1alpha1", "kind": "ClusterProperty",
		"metadata": map[string]any{"name": clusterPropertyName},
		"spec":     map[string]any{"value": "West"},
	}}
	res := dyn.Resource(gvr)
	if _, err := res.Create(ctx, prop, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "west's endpoints once the ClusterProperty names it", answers(t, m, dbName, dns.TypeA, dns.RcodeSuccess, "10.2.0.10"))

	if err := unstructured.SetNestedField(prop.Object, "east", "spec", "value"); err != nil {
		t.Fatal(err)
	}
	if _, err := res.Update(ctx, prop, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "east's endpoints after the change", answers(t, m, dbName, dns.TypeA, dns.RcodeSuccess, "10.1.0.10"))

	// Another ClusterProperty is not the cluster id.
	other := prop.DeepCopy()
	other.SetName("other.example.com")
	if err := unstructured.SetNestedField(other.Object, "west", "spec", "value"); err != nil {
		t.Fatal(err)
	}
	if _, err := res.Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := res.Delete(ctx, clusterPropertyName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "every cluster once the ClusterProperty is gone", answers(t, m, dbName, dns.TypeA, dns.RcodeSuccess, "10.1.0.10", "10.2.0.10"))
	if got := m.loc.cluster(); got != "" {
		t.Errorf("local cluster %q after the delete, want none", got)
	}
}

// Without the ClusterProperty CRD the plugin serves everything, unnarrowed.
func TestClusterPropertyCRDMissing(t *testing.T) {
	f := newFakeCluster("v1beta1")
	dyn := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme())
	m := startPluginWithClusterProperty(t, f, dyn)
	if !m.ctrl.synced() {
		t.Fatal("a missing ClusterProperty CRD must not keep the plugin from syncing")
	}
	ctx := context.TODO()
	if _, err := f.mcs.MulticlusterV1beta1().ServiceImports("shop").Create(ctx, prefer(headlessImport("shop", "db", nil), "PreferClose"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.kube.DiscoveryV1().EndpointSlices("shop").Create(ctx, slice("shop", "db-east", "db", "east", ipv4, tcp5432, ready("db-0", "10.1.0.10")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the service", answers(t, m, dbName, dns.TypeA, dns.RcodeSuccess, "10.1.0.10"))
}

// BenchmarkLocality: the query path of a service without locality is the one every
// service takes (one more boolean test); with locality, the answer is a prepared,
// smaller RRset.
func BenchmarkLocality(b *testing.B) {
	build := func(local string, td string) *MultiCluster {
		m := syncedPlugin()
		m.loc = newLocality(local, false)
		si := headlessImport("bench", "hl100", families(v4), sp("http", tcp, 80))
		if td != "" {
			prefer(si, td)
		}
		objs := []any{si}
		for c := range 5 {
			eps := make([]ep, 0, 20)
			for e := range 20 {
				eps = append(eps, ready(fmt.Sprintf("pod-%d", e), fmt.Sprintf("10.201.%d.%d", c, e+1)))
			}
			objs = append(objs, slice("bench", fmt.Sprintf("hl100-c%d", c), "hl100", fmt.Sprintf("cluster%d", c),
				discovery.AddressTypeIPv4, []epPort{{"http", tcp, 8080}}, eps...))
		}
		load(b, m, objs...)
		return m
	}
	for _, c := range []struct {
		name, local, td string
	}{
		{"NoLocality", "", ""},
		{"LocalKnown_FieldAbsent", "cluster2", ""},
		{"PreferClose", "cluster2", "PreferClose"},
	} {
		benchQueries(b, build(c.local, c.td), c.name+"/", []benchQuery{
			{"A", "hl100.bench.svc.clusterset.local.", dns.TypeA},
			{"SRV", "_http._tcp.hl100.bench.svc.clusterset.local.", dns.TypeSRV},
		})
	}
}

// RBAC that forbids reading the ClusterProperty: one warning, no locality, and the
// rest of the plugin unaffected.
func TestClusterPropertyForbidden(t *testing.T) {
	f := newFakeCluster("v1beta1")
	dyn, gvr := serveClusterProperty(f, "v1beta1")
	dyn.PrependReactor("*", "clusterproperties", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(gvr.GroupResource(), clusterPropertyName, errors.New("no RBAC"))
	})
	logs := captureLog(t)
	m := startPluginWithClusterProperty(t, f, dyn)
	eventually(t, "the forbidden watch to be reported", func() bool {
		return logs.count("ClusterProperty "+clusterPropertyName+": RBAC forbids reading it") > 0
	})
	ctx := context.TODO()
	if _, err := f.mcs.MulticlusterV1beta1().ServiceImports("shop").Create(ctx, prefer(headlessImport("shop", "db", nil), "PreferClose"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.kube.DiscoveryV1().EndpointSlices("shop").Create(ctx, slice("shop", "db-east", "db", "east", ipv4, tcp5432, ready("db-0", "10.1.0.10")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the service, unnarrowed", answers(t, m, dbName, dns.TypeA, dns.RcodeSuccess, "10.1.0.10"))
	if m.loc.cluster() != "" {
		t.Errorf("local cluster %q without access to the ClusterProperty", m.loc.cluster())
	}
}

// The ClusterProperty that names the local cluster (KEP-2149), as the watch reads it.
const (
	clusterPropertyGroup = "about.k8s.io"
	clusterPropertyName  = "cluster.clusterset.k8s.io"
)

// serveClusterProperty makes the fake cluster serve the ClusterProperty CRD at version
// and returns a fake dynamic client for it.
func serveClusterProperty(f *fakeCluster, version string) (*dynamicfake.FakeDynamicClient, schema.GroupVersionResource) {
	fd := f.kube.Discovery().(*fakediscovery.FakeDiscovery)
	fd.Resources = append(fd.Resources, &metav1.APIResourceList{
		GroupVersion: clusterPropertyGroup + "/" + version,
		APIResources: []metav1.APIResource{{Name: "clusterproperties", Kind: "ClusterProperty"}},
	})
	gvr := schema.GroupVersionResource{Group: clusterPropertyGroup, Version: version, Resource: "clusterproperties"}
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{gvr: "ClusterPropertyList"}), gvr
}

// startPluginWithClusterProperty runs a plugin whose local cluster comes from the
// ClusterProperty that dyn serves, like OnStartup without cluster_id.
func startPluginWithClusterProperty(t *testing.T, f *fakeCluster, dyn dynamic.Interface) *MultiCluster {
	t.Helper()
	m := New([]string{"clusterset.local."})
	m.ctrl = newController(f.kube, f.mcs, m.index, m.longestZone())
	m.ctrl.watch.RetryMax = 50 * time.Millisecond
	m.ctrl.loc = m.loc
	m.ctrl.clusterID = m.ctrl.newClusterIDWatch(dyn)
	m.ctrl.start()
	t.Cleanup(m.ctrl.stop)
	m.ctrl.waitSettled(5 * time.Second)
	f.waitWatching(t, m)
	return m
}
