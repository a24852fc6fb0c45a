// Command coredns is upstream CoreDNS with all its standard plugins plus multicluster,
// which runs right after kubernetes in the plugin chain. It is what
// `make coredns` builds into bin/coredns.
package main

import (
	"slices"

	"github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/core/plugin" // CoreDNS's standard plugins.
	"github.com/coredns/coredns/coremain"

	_ "github.com/mcs-dns/multicluster" // Registers the multicluster plugin.
)

// The same as the plugin.cfg line "multicluster:github.com/mcs-dns/multicluster"
// placed after "kubernetes:kubernetes" in a CoreDNS source tree.
func init() {
	i := slices.Index(dnsserver.Directives, "kubernetes")
	dnsserver.Directives = slices.Insert(dnsserver.Directives, i+1, "multicluster")
}

func main() {
	coremain.Run()
}
