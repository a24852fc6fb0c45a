package multicluster

import (
	"slices"
	"sync"

	"github.com/mcs-dns/multicluster/internal/zone"
	"github.com/prometheus/client_golang/prometheus"
)

// gauges are the gauges of one plugin instance. Each server block that has the plugin
// runs its own watches and index, so its gauges carry the server and zone labels the
// way CoreDNS's own metrics do (coredns_dns_requests_total{server, zone}); shared
// gauges would be overwritten by whichever block changed last.
//
// The series of a {server, zone} pair belong to one instance at a time, the one that
// claimed them last, and go when no instance holds them any more: a Corefile reload
// that moves or removes a server block, or CoreDNS stopping, must not leave a
// watch_status{status="stale"} at 1 or a block counted twice in a sum over server. On
// a reload caddy starts the new instance before it stops the old one (caddy
// Instance.Restart), so the new one claims the pair while the old one still runs: the
// old one's last writes are then kept to itself, and its release leaves the series to
// the new one. If the newer instance goes first (a reload that failed after it
// started), the older one owns the series again and writes back what it holds.
type gauges struct {
	server string   // "dns://:53", as metrics.WithServer reports it
	zones  []string // the plugin's zones

	// What this instance last set, guarded by gaugeOwners.mu.
	state    watchState
	hasState bool
	totals   zone.Stats
	hasTotal bool
	claimed  bool // claimed once; released instances stay claimed and write nothing
}

func newGauges(server string, zones []string) *gauges {
	return &gauges{server: server, zones: zones}
}

// seriesKey names the series of one server block and zone.
type seriesKey struct{ server, zone string }

// gaugeOwners holds, per series key, the instances that claimed it, oldest first; the
// last one writes the series.
var gaugeOwners = struct {
	mu     sync.Mutex
	claims map[seriesKey][]*gauges
}{claims: map[seriesKey][]*gauges{}}

// claim makes g the owner of its series, from a clean slate: the series describe one
// instance, never a mix of two. The first write of an instance claims them. The
// caller holds gaugeOwners.mu.
func (g *gauges) claim() {
	if g.claimed {
		return
	}
	g.claimed = true
	for _, z := range g.zones {
		k := seriesKey{g.server, z}
		if len(gaugeOwners.claims[k]) > 0 {
			deleteSeries(k)
		}
		gaugeOwners.claims[k] = append(gaugeOwners.claims[k], g)
	}
}

// deleteSeries deletes every gauge series of k.
func deleteSeries(k seriesKey) {
	labels := prometheus.Labels{"server": k.server, "zone": k.zone}
	for _, v := range []*prometheus.GaugeVec{watchStatus, serviceImports, endpointsServed} {
		v.DeletePartialMatch(labels)
	}
}

// owns reports whether g writes the series of zone z. The caller holds gaugeOwners.mu.
func (g *gauges) owns(z string) bool {
	c := gaugeOwners.claims[seriesKey{g.server, z}]
	return len(c) > 0 && c[len(c)-1] == g
}

func (g *gauges) setWatchState(s watchState) {
	g.set(func() { g.state, g.hasState = s, true }, g.writeState)
}

func (g *gauges) setTotals(t zone.Stats) {
	g.set(func() { g.totals, g.hasTotal = t, true }, g.writeTotals)
}

// set records a new value with keep and, for the zones g owns, writes it.
func (g *gauges) set(keep func(), write func(zone string)) {
	if g == nil {
		return
	}
	gaugeOwners.mu.Lock()
	defer gaugeOwners.mu.Unlock()
	g.claim()
	keep()
	for _, z := range g.zones {
		if g.owns(z) {
			write(z)
		}
	}
}

func (g *gauges) writeState(z string) {
	for i, name := range stateNames {
		v := 0.0
		if watchState(i) == g.state {
			v = 1
		}
		watchStatus.WithLabelValues(g.server, z, name).Set(v)
	}
}

func (g *gauges) writeTotals(z string) {
	serviceImports.WithLabelValues(g.server, z, "clusterset_ip").Set(float64(g.totals.ClusterSetIP))
	serviceImports.WithLabelValues(g.server, z, "headless").Set(float64(g.totals.Headless))
	endpointsServed.WithLabelValues(g.server, z).Set(float64(g.totals.Endpoints))
}

// release gives up g's series when its instance stops: they are deleted unless another
// instance holds them, which then owns them and writes its own values.
func (g *gauges) release() {
	if g == nil {
		return
	}
	gaugeOwners.mu.Lock()
	defer gaugeOwners.mu.Unlock()
	for _, z := range g.zones {
		k := seriesKey{g.server, z}
		c := gaugeOwners.claims[k]
		i := slices.Index(c, g)
		if i < 0 {
			continue
		}
		c = slices.Delete(c, i, i+1)
		if len(c) == 0 {
			delete(gaugeOwners.claims, k)
			deleteSeries(k)
			continue
		}
		gaugeOwners.claims[k] = c
		if i == len(c) {
			// g was the owner: the one before it takes over, with its own values,
			// from a clean slate (it may not have set every series).
			owner := c[len(c)-1]
			deleteSeries(k)
			if owner.hasState {
				owner.writeState(z)
			}
			if owner.hasTotal {
				owner.writeTotals(z)
			}
		}
	}
}
