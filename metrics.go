package multicluster

import (
	"net"

	"github.com/coredns/coredns/plugin"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Every label here takes a value from a small fixed set: no names, no addresses.
var (
	serviceImports = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "service_imports",
		Help:      "Number of ServiceImports served, by server, zone and type (clusterset_ip, headless).",
	}, []string{"server", "zone", "type"})

	endpointsServed = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "endpoints",
		Help:      "Number of distinct ready endpoint addresses served by headless services, by server and zone.",
	}, []string{"server", "zone"})

	updateDuration = promauto.NewHistogram(prometheus.HistogramOpts{
		Namespace:                   plugin.Namespace,
		Subsystem:                   pluginName,
		Name:                        "update_duration_seconds",
		Help:                        "Time from a watch event (an API change arriving) to the updated answers being served.",
		Buckets:                     []float64{.0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5},
		NativeHistogramBucketFactor: plugin.NativeHistogramBucketFactor,
	})

	skipped = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "skipped_total",
		Help:      "Malformed values left out of the answers (bad addresses, hostnames, cluster ids, ports, families, names too long), by reason.",
	}, []string{"reason"})

	unlistedSlices = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "unlisted_cluster_slices_total",
		Help:      "EndpointSlices served whose source cluster the ServiceImport's status.clusters does not list, counted per rebuild of the service.",
	})

	watchStatus = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "watch_status",
		Help:      "1 for the current state of the watches (starting, crd_missing, forbidden, unreachable, syncing, synced, stale), 0 for the others, by server and zone.",
	}, []string{"server", "zone", "status"})
)

// gauges are the gauges of one plugin instance. Each server block that has the plugin
// runs its own watches and index, so its gauges carry the server and zone labels the
// way CoreDNS's own metrics do (coredns_dns_requests_total{server, zone}); shared
// gauges would be overwritten by whichever block changed last.
type gauges struct {
	server string   // "dns://:53", as metrics.WithServer reports it
	zones  []string // the plugin's zones
}

func (g gauges) setWatchState(s watchState) {
	for _, z := range g.zones {
		for i, name := range stateNames {
			v := 0.0
			if watchState(i) == s {
				v = 1
			}
			watchStatus.WithLabelValues(g.server, z, name).Set(v)
		}
	}
}

func (g gauges) setTotals(t stats) {
	for _, z := range g.zones {
		serviceImports.WithLabelValues(g.server, z, "clusterset_ip").Set(float64(t.clusterSetIP))
		serviceImports.WithLabelValues(g.server, z, "headless").Set(float64(t.headless))
		endpointsServed.WithLabelValues(g.server, z).Set(float64(t.endpoints))
	}
}

// serverAddr is the server label of a server block, as CoreDNS builds its servers'
// addresses: "<transport>://<host>:<port>" for the first listen host.
func serverAddr(transport string, hosts []string, port string) string {
	host := ""
	if len(hosts) > 0 {
		host = hosts[0]
	}
	if transport == "" {
		transport = "dns"
	}
	return transport + "://" + net.JoinHostPort(host, port)
}
