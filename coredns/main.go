// Command coredns is upstream CoreDNS with all its standard plugins plus multicluster,
// which runs right after kubernetes in the plugin chain. It is what
// `make coredns` builds into bin/coredns.
package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/coredns/caddy"
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
	if slices.Contains(os.Args[1:], "-plugins") || slices.Contains(os.Args[1:], "--plugins") {
		fmt.Print(describePlugins())
		os.Exit(0)
	}
	coremain.Run()
}

// describePlugins lists the plugins with their server type, the way CoreDNS printed
// them before v1.14 ("dns.multicluster"), so scripts can tell which server type a
// plugin belongs to.
func describePlugins() string {
	var b strings.Builder
	for _, section := range []struct{ title, key string }{
		{"Server types", "server_types"},
		{"Caddyfile loaders", "caddyfile_loaders"},
		{"Other plugins", "others"},
	} {
		fmt.Fprintf(&b, "%s:\n", section.title)
		for _, name := range caddy.ListPlugins()[section.key] {
			fmt.Fprintf(&b, "  %s\n", name)
		}
		b.WriteString("\n")
	}
	return b.String()
}
