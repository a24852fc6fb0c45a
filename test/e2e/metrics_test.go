package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// TestMetrics scrapes the prometheus plugin: the multicluster gauges match what the API
// holds, and updates are timed.
func TestMetrics(t *testing.T) {
	s := need(t)
	ctx := context.Background()
	ns := "metrics"
	mustNamespace(t, s.clients, ns)
	mustImport(t, s.clients, harness.Import{Namespace: ns, Name: "m", IPs: []string{"10.80.0.1"}, Ports: []harness.Port{harness.TCP("http", 80)}}, false)
	mustImport(t, s.clients, harness.Import{Namespace: ns, Name: "mh", Headless: true, Ports: []harness.Port{harness.TCP("http", 80)}}, false)
	mustSlice(t, s.clients, harness.Slice{Namespace: ns, Name: "mh-east", Service: "mh", Cluster: "east", Ports: []harness.Port{harness.TCP("http", 80)},
		Endpoints: []harness.Endpoint{harness.Ready("m-0", "10.80.1.1"), harness.Ready("m-1", "10.80.1.2"), harness.NotReady("m-2", "10.80.1.3")}})
	eventually(t, s.port, fq("m-1.east", "mh", ns), "A", want{answer: []string{"A 10.80.1.2"}}, freshness)
	eventually(t, s.port, fq("", "m", ns), "A", want{answer: []string{"A 10.80.0.1"}}, freshness)

	list, err := s.clients.MCS.MulticlusterV1beta1().ServiceImports("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var clusterSetIP, headless float64
	for _, si := range list.Items {
		if si.Spec.Type == "Headless" {
			headless++
		} else {
			clusterSetIP++
		}
	}

	var m map[string]float64
	deadline := time.Now().Add(freshness)
	for {
		m = metrics(t, s.metricsPort)
		if m[`coredns_multicluster_service_imports{type="clusterset_ip"}`] == clusterSetIP &&
			m[`coredns_multicluster_service_imports{type="headless"}`] == headless {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("service_imports gauges: clusterset_ip %v, headless %v; the API holds %v and %v",
				m[`coredns_multicluster_service_imports{type="clusterset_ip"}`], m[`coredns_multicluster_service_imports{type="headless"}`],
				clusterSetIP, headless)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("service_imports: clusterset_ip %v, headless %v", clusterSetIP, headless)

	count := m["coredns_multicluster_update_duration_seconds_count"]
	sum := m["coredns_multicluster_update_duration_seconds_sum"]
	if count < 3 {
		t.Errorf("coredns_multicluster_update_duration_seconds_count = %v, want at least the 3 changes made here", count)
	} else if avg := sum / count; avg <= 0 || avg > 1 {
		t.Errorf("mean update duration %.6fs: implausible", avg)
	}
	t.Logf("update_duration_seconds: count %v, mean %.6fs", count, sum/count)
	if m[`coredns_multicluster_watch_status{status="synced"}`] != 1 {
		t.Errorf("watch_status synced = %v, want 1", m[`coredns_multicluster_watch_status{status="synced"}`])
	}
	if m["coredns_multicluster_endpoints"] < 2 {
		t.Errorf("coredns_multicluster_endpoints = %v, want at least 2", m["coredns_multicluster_endpoints"])
	}
}

// TestGaugesFollowTheirServerBlock: the gauges of a server block go when a Corefile
// reload removes the block, and stay, the new instance's, for a block the reload keeps
// (caddy starts the new instance before it stops the old one).
func TestGaugesFollowTheirServerBlock(t *testing.T) {
	s := need(t)
	ports, err := harness.FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	kept, removed, prom := ports[0], ports[1], ports[2]
	block := func(port int, extra string) string {
		return fmt.Sprintf(`.:%d {
    bind 127.0.0.1
%s    multicluster clusterset.local {
        kubeconfig %s
    }
}
`, port, extra, s.kubeconfig)
	}
	withProm := fmt.Sprintf("    prometheus 127.0.0.1:%d\n", prom)
	dir := t.TempDir()
	c, err := startCoreDNS(context.Background(), dir, kept, block(kept, withProm)+block(removed, ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Kill() })
	dumpLogOnFailure(t, c)

	series := func(port int) map[string]float64 {
		out := map[string]float64{}
		server := fmt.Sprintf(`server="dns://127.0.0.1:%d"`, port)
		for k, v := range metrics(t, prom) {
			if strings.HasPrefix(k, "coredns_multicluster_") && strings.Contains(k, server) {
				out[k] = v
			}
		}
		return out
	}
	synced := func(port int) string {
		return fmt.Sprintf(`coredns_multicluster_watch_status{server="dns://127.0.0.1:%d",status="synced",zone="clusterset.local."}`, port)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; kept block's series %v, removed block's %v", what, series(kept), series(removed))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("both blocks synced", func() bool { return series(kept)[synced(kept)] == 1 && series(removed)[synced(removed)] == 1 })

	if err := os.WriteFile(filepath.Join(dir, "Corefile"), []byte(block(kept, withProm)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(c.PID, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitFor("the reload", func() bool { return strings.Contains(c.Log(), "Reloading complete") })
	waitFor("the kept block synced again", func() bool { return series(kept)[synced(kept)] == 1 })
	if got := series(removed); len(got) != 0 {
		t.Errorf("the removed block's series outlive it: %v", got)
	}
	for k, v := range series(kept) {
		if strings.Contains(k, "watch_status") && !strings.Contains(k, `status="synced"`) && v != 0 {
			t.Errorf("%s = %v after the reload, want 0", k, v)
		}
	}
}
