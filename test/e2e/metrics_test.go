package e2e

import (
	"context"
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
