package multicluster

import (
	"strings"
	"testing"

	"github.com/mcs-dns/multicluster/internal/zone"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// seriesOf returns the gauge series of server: "name/zone/label" -> value.
func seriesOf(t *testing.T, server string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for name, c := range map[string]prometheus.Collector{"watch_status": watchStatus, "service_imports": serviceImports, "endpoints": endpointsServed} {
		ch := make(chan prometheus.Metric, 64)
		go func() { c.Collect(ch); close(ch) }()
		for m := range ch {
			var d dto.Metric
			if err := m.Write(&d); err != nil {
				t.Fatal(err)
			}
			var srv, zone, label string
			for _, l := range d.GetLabel() {
				switch l.GetName() {
				case "server":
					srv = l.GetValue()
				case "zone":
					zone = l.GetValue()
				default:
					label = l.GetValue()
				}
			}
			if srv == server {
				out[name+"/"+zone+"/"+label] = d.GetGauge().GetValue()
			}
		}
	}
	return out
}

// TestGaugesGoWithTheirInstance: an instance's {server, zone} series are deleted when
// it stops (a Corefile reload that moves or removes its server block, or CoreDNS
// stopping), but not those a newer instance with the same labels owns: caddy starts
// the new instance before it stops the old one, and the old one's last writes must
// not overwrite the new one's values either.
func TestGaugesGoWithTheirInstance(t *testing.T) {
	const server = "dns://127.0.0.1:5301"
	start := func(zones ...string) *MultiCluster {
		m := New(zones)
		m.gauges = newGauges(server, m.Zones)
		m.ctrl = newController(nil, nil, m.index, m.longestZone())
		m.ctrl.gauges = m.gauges
		return m
	}
	stop := func(m *MultiCluster) {
		if err := m.onShutdown(); err != nil {
			t.Fatal(err)
		}
	}
	const (
		stale   = "watch_status/clusterset.local./stale"
		synced  = "watch_status/clusterset.local./synced"
		syncing = "watch_status/clusterset.local./syncing"
		csip    = "service_imports/clusterset.local./clusterset_ip"
	)

	// A reload that keeps the labels: the old instance stops after the new one started.
	old := start("clusterset.local.")
	old.ctrl.setState(stateSynced)
	old.ctrl.gauges.setTotals(zone.Stats{ClusterSetIP: 3})
	next := start("clusterset.local.")
	next.ctrl.setState(stateSyncing)
	old.ctrl.setState(stateStale) // the old instance's last write, before it stops
	old.ctrl.gauges.setTotals(zone.Stats{ClusterSetIP: 4})
	stop(old)
	got := seriesOf(t, server)
	if got[syncing] != 1 || got[stale] != 0 || got[synced] != 0 {
		t.Errorf("after the old instance stopped: syncing %v, stale %v, synced %v; want the new instance's 1, 0, 0", got[syncing], got[stale], got[synced])
	}
	if _, ok := got[csip]; ok {
		t.Errorf("service_imports %v: the new instance has set none, the old one's must not show", got[csip])
	}
	next.ctrl.gauges.setTotals(zone.Stats{ClusterSetIP: 1})
	if got := seriesOf(t, server)[csip]; got != 1 {
		t.Errorf("service_imports %v, want the new instance's 1", got)
	}

	// The block moves to another zone: the old zone's series go, the new zone's stay.
	moved := start("example.org.")
	moved.ctrl.setState(stateSynced)
	stop(next)
	for k := range seriesOf(t, server) {
		if !strings.HasPrefix(k, "watch_status/example.org./") {
			t.Errorf("series %s left after its instance stopped", k)
		}
	}
	if got := seriesOf(t, server)["watch_status/example.org./synced"]; got != 1 {
		t.Errorf("the moved block's synced = %v, want 1", got)
	}

	// A reload that fails after the new instance started: the old one is the owner
	// again, with the values it has now.
	failed := start("example.org.")
	failed.ctrl.setState(stateStarting)
	moved.ctrl.setState(stateStale)
	stop(failed)
	if got := seriesOf(t, server); got["watch_status/example.org./stale"] != 1 || got["watch_status/example.org./starting"] != 0 {
		t.Errorf("after the failed reload: stale %v, starting %v; want the old instance's 1, 0", got["watch_status/example.org./stale"], got["watch_status/example.org./starting"])
	}

	// CoreDNS stops: nothing is left.
	stop(moved)
	if got := seriesOf(t, server); len(got) != 0 {
		t.Errorf("series left after every instance stopped: %v", got)
	}
}
