package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/coredns/coredns/core/dnsserver"
)

// TestChainOrder: multicluster runs right after kubernetes, as a plugin.cfg line after
// kubernetes would place it.
func TestChainOrder(t *testing.T) {
	k := slices.Index(dnsserver.Directives, "kubernetes")
	m := slices.Index(dnsserver.Directives, "multicluster")
	if k < 0 || m != k+1 {
		t.Fatalf("kubernetes at %d, multicluster at %d; want multicluster right after kubernetes", k, m)
	}
	if n := strings.Count(strings.Join(dnsserver.Directives, " ")+" ", " multicluster "); n != 1 {
		t.Fatalf("multicluster appears %d times in the directives", n)
	}
}

func TestDescribePluginsListsMulticluster(t *testing.T) {
	out := describePlugins()
	for _, want := range []string{"  dns\n", "  dns.kubernetes\n", "  dns.multicluster\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("plugin list lacks %q", want)
		}
	}
}
