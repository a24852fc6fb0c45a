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

// TestRBACForbidden: a CoreDNS whose identity is not bound to deploy/'s ClusterRole says
// so in one log line, stays unready and SERVFAILs; once the binding is applied it serves
// without a restart.
func TestRBACForbidden(t *testing.T) {
	// Runs alongside the other slow tests, which use clusters of their own, after the
	// tests that share the main cluster.
	t.Parallel()
	need(t)
	x := startSecondary(t, controlplane.Options{}, false)
	ctx := context.Background()
	ns := "rbac"
	mustNamespace(t, x.clients, ns)
	mustImport(t, x.clients, harness.Import{Namespace: ns, Name: "web", IPs: []string{"10.92.0.1"}, Ports: []harness.Port{harness.TCP("http", 80)}}, false)
	x.startCoreDNS(t)
	p := x.port
	// The start-up check's line (watch failures later have lines of their own).
	const forbidden = "RBAC forbids this plugin to list"
	waitLog(t, x.dns, forbidden, 10*time.Second)
	expectRows(t, p, []row{
		{fq("", "web", ns), "A", want{rcode: "SERVFAIL"}},
		{fq("", "nope", ns), "A", want{rcode: "SERVFAIL"}},
		{"dns-version." + Zone, "TXT", want{answer: []string{`TXT "1.0.0"`}}},
		{"www.example.org.", "A", want{answer: []string{"A 192.0.2.80"}, ttl: 3600, foreign: true}},
	})
	code, _, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/ready", x.readyPort))
	if err != nil || code == 200 {
		t.Errorf("/ready: %d %v; want not ready while RBAC forbids the watches", code, err)
	}
	m := metrics(t, x.metricsP)
	if m[`coredns_multicluster_watch_status{status="forbidden"}`] != 1 {
		t.Errorf("watch_status forbidden = %v, want 1", m[`coredns_multicluster_watch_status{status="forbidden"}`])
	}

	if err := harness.ApplyRBAC(ctx, x.cp, env.root); err != nil {
		t.Fatal(err)
	}
	bound := time.Now()
	eventually(t, p, fq("", "web", ns), "A", want{answer: []string{"A 10.92.0.1"}}, 20*time.Second)
	t.Logf("serving %s after deploy/'s binding was applied", time.Since(bound).Round(time.Millisecond))
	if err := waitReady(ctx, x.readyPort, 5*time.Second); err != nil {
		t.Error(err)
	}
	expect(t, p, fq("", "nope", ns), "A", want{rcode: "NXDOMAIN"})
	if n := strings.Count(x.dns.Log(), forbidden); n != 1 {
		t.Errorf("%q logged %d times, want once", forbidden, n)
	}
}
