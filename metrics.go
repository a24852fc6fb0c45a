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
