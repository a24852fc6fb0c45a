package multicluster

import (
	"fmt"
	"runtime"
	"testing"

	discovery "k8s.io/api/discovery/v1"
)

// BenchmarkReverseIndexMemory: the heap the reverse index (PTR owners and the counted
// names above the addresses) adds per endpoint address when reverse zones are served:
// 100,000 endpoints in 5,000 headless services of 5 clusters, numbered sequentially as
// IPAM hands them out, IPv4 or IPv6.
func BenchmarkReverseIndexMemory(b *testing.B) {
	for _, family := range []struct {
		name string
		at   discovery.AddressType
		addr func(n int) string
	}{
		{"IPv4", discovery.AddressTypeIPv4, func(n int) string { return fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255) }},
		{"IPv6", discovery.AddressTypeIPv6, func(n int) string { return fmt.Sprintf("fd00:10::%x:%x", n>>16, n&0xffff) }},
	} {
		b.Run(family.name, func(b *testing.B) {
			const services, clusters, perSlice = 5000, 5, 4
			var objs []any
			for i := range services {
				name := fmt.Sprintf("svc%d", i)
				objs = append(objs, headlessImport("ns", name, nil, sp("http", tcp, 80)))
				for c := range clusters {
					eps := make([]ep, 0, perSlice)
					for e := range perSlice {
						eps = append(eps, ready(fmt.Sprintf("pod-%d", e), family.addr((i*clusters+c)*perSlice+e)))
					}
					objs = append(objs, slice("ns", fmt.Sprintf("%s-c%d", name, c), name, fmt.Sprintf("cluster%d", c),
						family.at, []epPort{{"http", tcp, 8080}}, eps...))
				}
			}
			heap := func(zones ...string) (uint64, *MultiCluster) {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				m := syncedPlugin(zones...)
				load(b, m, objs...)
				runtime.GC()
				runtime.ReadMemStats(&after)
				return after.HeapAlloc - before.HeapAlloc, m
			}
			var perAddr, entsPerAddr float64
			for b.Loop() {
				without, m0 := heap()
				with, m := heap("clusterset.local.", "in-addr.arpa.", "ip6.arpa.")
				n, ents := m.index.ReverseSize()
				addrs := float64(n)
				perAddr = (float64(with) - float64(without)) / addrs
				entsPerAddr = float64(ents) / addrs
				runtime.KeepAlive(m0)
				runtime.KeepAlive(m)
			}
			b.ReportMetric(perAddr, "heapB/address")
			b.ReportMetric(entsPerAddr, "names/address")
		})
	}
}
