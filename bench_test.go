package multicluster

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/coredns/coredns/plugin/test"
	"github.com/mcs-dns/multicluster/internal/object"
	"github.com/mcs-dns/multicluster/internal/zone"

	"github.com/miekg/dns"
	discovery "k8s.io/api/discovery/v1"
)

// benchWriter discards replies, so the benchmarks measure ServeDNS alone.
type benchWriter struct{ test.ResponseWriter }

func (benchWriter) WriteMsg(*dns.Msg) error { return nil }

// benchPlugin serves a ClusterSet of services ClusterSetIP services plus headless
// services with 10 and 100 endpoints across 5 clusters, and a dual-stack service.
func benchPlugin(b *testing.B, services int) *MultiCluster {
	b.Helper()
	m := syncedPlugin()
	var objs []any
	for i := range services {
		objs = append(objs, clusterSetIP(fmt.Sprintf("ns%d", i%100), fmt.Sprintf("svc%d", i),
			[]string{fmt.Sprintf("10.%d.%d.%d", 100+i/65536, i/256%256, i%256)}, families(v4), sp("http", tcp, 80)))
	}
	objs = append(objs, clusterSetIP("bench", "dual", []string{"10.0.0.1", "fd00::1"}, families(v4, v6), sp("http", tcp, 80)))
	for _, n := range []int{10, 100} {
		name := fmt.Sprintf("hl%d", n)
		objs = append(objs, headlessImport("bench", name, families(v4), sp("http", tcp, 80)))
		for c := range 5 {
			eps := make([]ep, 0, n/5)
			for e := range n / 5 {
				eps = append(eps, ready(fmt.Sprintf("pod-%d", e), fmt.Sprintf("10.%d.%d.%d", 200+n/100, c, e+1)))
			}
			objs = append(objs, slice("bench", fmt.Sprintf("%s-c%d", name, c), name, fmt.Sprintf("cluster%d", c),
				discovery.AddressTypeIPv4, []epPort{{"http", tcp, 8080}}, eps...))
		}
	}
	load(b, m, objs...)
	return m
}

func BenchmarkServeDNS(b *testing.B) {
	m := benchPlugin(b, 10000)
	benchQueries(b, m, "", []benchQuery{
		{"ClusterSetIP_A", "svc42.ns42.svc.clusterset.local.", dns.TypeA},
		{"DualStack_AAAA", "dual.bench.svc.clusterset.local.", dns.TypeAAAA},
		{"Headless_A_10", "hl10.bench.svc.clusterset.local.", dns.TypeA},
		{"Headless_A_100", "hl100.bench.svc.clusterset.local.", dns.TypeA},
		{"Endpoint_A", "pod-3.cluster2.hl100.bench.svc.clusterset.local.", dns.TypeA},
		{"ClusterSetIP_SRV", "_http._tcp.svc42.ns42.svc.clusterset.local.", dns.TypeSRV},
		{"Headless_SRV_10", "_http._tcp.hl10.bench.svc.clusterset.local.", dns.TypeSRV},
		{"Headless_SRV_100", "_http._tcp.hl100.bench.svc.clusterset.local.", dns.TypeSRV},
		{"NXDOMAIN", "nope.ns42.svc.clusterset.local.", dns.TypeA},
		{"MixedCase_A", "SVC42.Ns42.svc.ClusterSet.local.", dns.TypeA},
	})
}

// benchQuery is one query of a ServeDNS benchmark.
type benchQuery struct {
	name  string
	qname string
	qtype uint16
}

// benchQueries benchmarks ServeDNS of m for each query, named prefix+name.
func benchQueries(b *testing.B, m *MultiCluster, prefix string, qs []benchQuery) {
	ctx := context.Background()
	for _, q := range qs {
		r := new(dns.Msg)
		r.SetQuestion(q.qname, q.qtype)
		w := &benchWriter{}
		b.Run(prefix+q.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m.ServeDNS(ctx, w, r)
			}
		})
	}
}

// BenchmarkUpdate measures the update path: one EndpointSlice of a 100-endpoint
// headless service changes in a store of 10,000 services; the service is rebuilt and
// swapped in.
func BenchmarkUpdate(b *testing.B) {
	m := benchPlugin(b, 10000)
	tr, _ := object.TransformImport(headlessImport("bench", "hl100", families(v4), sp("http", tcp, 80)))
	si := tr.(*object.ServiceImport)
	var eps []*object.EndpointSlice
	for c := range 5 {
		list := make([]ep, 0, 20)
		for e := range 20 {
			list = append(list, ready(fmt.Sprintf("pod-%d", e), fmt.Sprintf("10.201.%d.%d", c, e+1)))
		}
		s, _ := object.TransformSlice(slice("bench", fmt.Sprintf("hl100-c%d", c), "hl100", fmt.Sprintf("cluster%d", c),
			discovery.AddressTypeIPv4, []epPort{{"http", tcp, 8080}}, list...))
		eps = append(eps, s.(*object.EndpointSlice))
	}
	k := object.ServiceKey{Namespace: "bench", Name: "hl100"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		// Alternate one endpoint's address so every publish is a real change.
		i++
		changed := *eps[0]
		changed.Endpoints = append([]object.Endpoint(nil), eps[0].Endpoints...)
		changed.Endpoints[0].Addr = changed.Endpoints[0].Addr.Next()
		if i%2 == 0 {
			changed.Endpoints[0] = eps[0].Endpoints[0]
		}
		all := append([]*object.EndpointSlice{&changed}, eps[1:]...)
		m.index.Publish(k, zone.Build(si, all, m.longestZone(), func(string, string) {}))
	}
}

// BenchmarkMemoryPerEndpoint reports the heap the plugin holds per endpoint (records,
// with the strings they share with the trimmed objects) for headless services exported
// by several clusters, one EndpointSlice per cluster and service:
//   - 100k: 5,000 services x 5 clusters x 4 endpoints;
//   - 1M: 5,000 services x 200 clusters x 1 endpoint (the largest ClusterMesh shape
//     reported: 200 clusters).
func BenchmarkMemoryPerEndpoint(b *testing.B) {
	for _, size := range []struct {
		name                         string
		services, clusters, perSlice int
	}{
		{"100k", 5000, 5, 4},
		{"1M", 5000, 200, 1},
	} {
		b.Run(size.name, func(b *testing.B) {
			var objs []any
			for i := range size.services {
				name := fmt.Sprintf("svc%d", i)
				objs = append(objs, headlessImport("ns", name, families(v4), sp("http", tcp, 80)))
				for c := range size.clusters {
					eps := make([]ep, 0, size.perSlice)
					for e := range size.perSlice {
						n := (i*size.clusters+c)*size.perSlice + e
						eps = append(eps, ready(fmt.Sprintf("pod-%d", e), fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255)))
					}
					objs = append(objs, slice("ns", fmt.Sprintf("%s-c%d", name, c), name, fmt.Sprintf("cluster%d", c),
						discovery.AddressTypeIPv4, []epPort{{"http", tcp, 8080}}, eps...))
				}
			}
			endpoints := size.services * size.clusters * size.perSlice
			var perEndpoint float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				m := syncedPlugin()
				load(b, m, objs...)
				runtime.GC()
				runtime.ReadMemStats(&after)
				perEndpoint = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(endpoints)
				runtime.KeepAlive(m)
			}
			b.ReportMetric(perEndpoint, "heapB/endpoint")
		})
	}
}
