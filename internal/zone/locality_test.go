package zone

import (
	"net/netip"
	"slices"
	"testing"
)

func TestLocalSubset(t *testing.T) {
	p := func(cluster, addr string) ClusterAddr {
		return ClusterAddr{Cluster: cluster, Addr: netip.MustParseAddr(addr)}
	}
	pairs := []ClusterAddr{p("east", "10.0.0.2"), p("west", "10.0.0.3"), p("east", "10.0.0.1"), p("east", "10.0.0.2"), p("", "10.0.0.9")}
	cases := []struct {
		local string
		pairs []ClusterAddr
		want  []string // nil: not narrowed
	}{
		{"east", pairs, []string{"10.0.0.1", "10.0.0.2"}},
		{"west", pairs, []string{"10.0.0.3"}},
		{"", pairs, nil},
		{"north", pairs, nil},
		// An address several clusters share counts as local; all local: nothing to narrow.
		{"east", []ClusterAddr{p("east", "10.0.0.1"), p("west", "10.0.0.1")}, nil},
		{"east", nil, nil},
	}
	for _, c := range cases {
		sub, ok := LocalSubset(c.pairs, c.local)
		var got []string
		for _, a := range sub {
			got = append(got, a.String())
		}
		if ok != (c.want != nil) || !slices.Equal(got, c.want) {
			t.Errorf("localSubset(%q) = %v, %v; want %v", c.local, got, ok, c.want)
		}
	}
}
