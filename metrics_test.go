package multicluster

import (
	"testing"

	"github.com/mcs-dns/multicluster/internal/zone"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestGaugesPerServerBlock: two server blocks with the plugin keep their own gauges
// instead of overwriting one shared value.
func TestGaugesPerServerBlock(t *testing.T) {
	a := newGauges(serverAddr("dns", []string{""}, "53"), []string{"clusterset.local."})
	b := newGauges(serverAddr("dns", []string{"127.0.0.1"}, "1053"), []string{"clusterset.local.", "example.org."})
	t.Cleanup(a.release)
	t.Cleanup(b.release)
	a.setTotals(zone.Stats{ClusterSetIP: 3, Headless: 1, Endpoints: 10})
	b.setTotals(zone.Stats{ClusterSetIP: 7, Endpoints: 2})
	a.setWatchState(stateSynced)
	b.setWatchState(stateForbidden)
	for _, tc := range []struct {
		what string
		got  float64
		want float64
	}{
		{"a clusterset_ip", testutil.ToFloat64(serviceImports.WithLabelValues("dns://:53", "clusterset.local.", "clusterset_ip")), 3},
		{"b clusterset_ip", testutil.ToFloat64(serviceImports.WithLabelValues("dns://127.0.0.1:1053", "clusterset.local.", "clusterset_ip")), 7},
		{"b second zone", testutil.ToFloat64(serviceImports.WithLabelValues("dns://127.0.0.1:1053", "example.org.", "clusterset_ip")), 7},
		{"a endpoints", testutil.ToFloat64(endpointsServed.WithLabelValues("dns://:53", "clusterset.local.")), 10},
		{"b endpoints", testutil.ToFloat64(endpointsServed.WithLabelValues("dns://127.0.0.1:1053", "clusterset.local.")), 2},
		{"a synced", testutil.ToFloat64(watchStatus.WithLabelValues("dns://:53", "clusterset.local.", "synced")), 1},
		{"b synced", testutil.ToFloat64(watchStatus.WithLabelValues("dns://127.0.0.1:1053", "clusterset.local.", "synced")), 0},
		{"b forbidden", testutil.ToFloat64(watchStatus.WithLabelValues("dns://127.0.0.1:1053", "clusterset.local.", "forbidden")), 1},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.what, tc.got, tc.want)
		}
	}
}
