package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mcs-dns/multicluster/test/controlplane"
	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// TestBothVersionsServed: the main cluster serves v1alpha1 and v1beta1; the plugin
// watches v1beta1, and ServiceImports written through the v1alpha1 API answer too.
func TestBothVersionsServed(t *testing.T) {
	s := need(t)
	dumpLogOnFailure(t, s.dns)
	if !strings.Contains(s.dns.Log(), "Watching ServiceImports multicluster.x-k8s.io/v1beta1") {
		t.Error("with both versions served the plugin should watch v1beta1")
	}
	ctx := context.Background()
	ns := "both-versions"
	mustNamespace(t, s.clients, ns)
	alpha := harness.Import{Namespace: ns, Name: "via-alpha", IPs: []string{"10.90.0.1"}, Families: v4only, Ports: []harness.Port{harness.TCP("http", 80)}}
	beta := harness.Import{Namespace: ns, Name: "via-beta", IPs: []string{"10.90.0.2"}, Families: v4only, Ports: []harness.Port{harness.TCP("http", 80)}}
	mustImport(t, s.clients, alpha, true)
	mustImport(t, s.clients, beta, false)
	eventually(t, s.port, fq("", "via-alpha", ns), "A", want{answer: []string{"A 10.90.0.1"}}, freshness)
	eventually(t, s.port, fq("", "via-beta", ns), "A", want{answer: []string{"A 10.90.0.2"}}, freshness)
	alpha.IPs = []string{"10.90.0.3"}
	if err := s.clients.UpdateImport(ctx, alpha, true); err != nil {
		t.Fatal(err)
	}
	eventually(t, s.port, fq("", "via-alpha", ns), "A", want{answer: []string{"A 10.90.0.3"}}, freshness)
}

// TestCRDAbsentThenV1alpha1Only starts CoreDNS against a cluster without the MCS CRDs:
// other zones answer, the plugin's names SERVFAIL, /ready is 200. Then the CRDs arrive
// serving v1alpha1 only, as on clusters that predate v1beta1: the plugin finds them
// without a restart, watches v1alpha1 and follows changes.
func TestCRDAbsentThenV1alpha1Only(t *testing.T) {
	// Runs alongside the other slow tests, which use clusters of their own, after the
	// tests that share the main cluster.
	t.Parallel()
	need(t)
	x := startSecondary(t, controlplane.Options{SkipCRDs: true}, true)
	x.startCoreDNS(t)
	ctx := context.Background()
	ns := "alpha"
	p := x.port
	const missing = "is not installed"
	waitLog(t, x.dns, missing, 10*time.Second)

	t.Run("CRD absent", func(t *testing.T) {
		expectRows(t, p, []row{
			{"www.example.org.", "A", want{answer: []string{"A 192.0.2.80"}, ttl: 3600, foreign: true}},
			{fq("", "web", ns), "A", want{rcode: "SERVFAIL"}},
			{fq("db-0.west.us", "db", ns), "A", want{rcode: "SERVFAIL"}},
			{Zone, "SOA", want{answer: []string{"SOA ns.dns.clusterset.local. hostmaster.clusterset.local. 7200 1800 86400 5"}}},
			{Zone, "NS", want{answer: []string{"NS ns.dns.clusterset.local."}}},
			{"dns-version." + Zone, "TXT", want{answer: []string{`TXT "1.0.0"`}}},
			{"svc." + Zone, "A", want{}},
		})
		code, body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/ready", x.readyPort))
		if err != nil || code != 200 {
			t.Errorf("/ready: %d %q %v, want 200 (a missing CRD must not hold cluster DNS unready)", code, body, err)
		}
		m := metrics(t, x.metricsP)
		if m[`coredns_multicluster_watch_status{status="crd_missing"}`] != 1 {
			t.Errorf("watch_status crd_missing = %v, want 1", m[`coredns_multicluster_watch_status{status="crd_missing"}`])
		}
	})

	t.Run("v1alpha1 CRDs installed later", func(t *testing.T) {
		if err := x.cp.InstallCRDs(ctx, controlplane.OnlyV1alpha1); err != nil {
			t.Fatal(err)
		}
		installed := time.Now()
		mustNamespace(t, x.clients, ns)
		web := harness.Import{Namespace: ns, Name: "web", IPs: []string{"10.91.0.1"}, Families: v4only, Ports: []harness.Port{harness.TCP("http", 80)}}
		db := harness.Import{Namespace: ns, Name: "db", Headless: true, Families: dual, Ports: []harness.Port{harness.TCP("pg", 5432)}}
		mustImport(t, x.clients, web, true)
		mustImport(t, x.clients, db, true)
		slice := harness.Slice{Namespace: ns, Name: "db-west", Service: "db", Cluster: "west.us", Ports: []harness.Port{harness.TCP("pg", 5432)},
			Endpoints: []harness.Endpoint{harness.Ready("db-0", "10.91.1.1")}}
		mustSlice(t, x.clients, slice)
		// The plugin retries discovery with a backoff of at most 10 s.
		eventually(t, p, fq("db-0.west.us", "db", ns), "A", want{answer: []string{"A 10.91.1.1"}}, 20*time.Second)
		eventually(t, p, fq("", "web", ns), "A", want{answer: []string{"A 10.91.0.1"}}, freshness)
		t.Logf("answers from v1alpha1 ServiceImports %s after the CRDs were installed, without a restart", time.Since(installed).Round(time.Millisecond))
		log := x.dns.Log()
		if !strings.Contains(log, "Watching ServiceImports multicluster.x-k8s.io/v1alpha1") {
			t.Error("the plugin should say it watches v1alpha1")
		}
		if n := strings.Count(log, missing); n != 1 {
			t.Errorf("the missing CRD was logged %d times, want once", n)
		}
		expectRows(t, p, []row{
			{fq("", "nope", ns), "A", want{rcode: "NXDOMAIN"}}, // synced: NXDOMAIN again
			{fq("_pg._tcp", "db", ns), "SRV", want{answer: []string{"SRV 5432 " + fq("db-0.west.us", "db", ns)}}},
			{fq("west.us", "db", ns), "A", want{}},
			{"www.example.org.", "A", want{answer: []string{"A 192.0.2.80"}, ttl: 3600, foreign: true}},
		})

		// Changes through the v1alpha1 API show within 2 s.
		web.IPs = []string{"10.91.0.2"}
		step(t, p, "v1alpha1: change the VIP", func() error { return x.clients.UpdateImport(ctx, web, true) },
			fq("", "web", ns), "A", want{answer: []string{"A 10.91.0.2"}})
		slice.Endpoints = append(slice.Endpoints, harness.Ready("db-1", "10.91.1.2"))
		step(t, p, "v1alpha1: add an endpoint", func() error { return x.clients.UpdateSlice(ctx, slice) },
			fq("db-1.west.us", "db", ns), "A", want{answer: []string{"A 10.91.1.2"}})
		step(t, p, "v1alpha1: delete a ServiceImport", func() error {
			return x.clients.MCS.MulticlusterV1alpha1().ServiceImports(ns).Delete(ctx, "web", deleteNow)
		}, fq("", "web", ns), "A", want{rcode: "NXDOMAIN"})
	})
}
