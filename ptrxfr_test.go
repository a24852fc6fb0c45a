package multicluster

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/coredns/coredns/plugin/transfer"

	"github.com/miekg/dns"
)

// TestReverseTransfer: the transfer plugin asks for a reverse zone among the plugin's
// zones by its name; the zone transfers SOA, NS and every PTR in it, each exactly what
// a query answers, SOA first and last; IXFR at the current serial is the SOA alone.
// A reverse zone the plugin does not serve is not its to transfer.
func TestReverseTransfer(t *testing.T) {
	m := syncedPluginAt(func() time.Time { return time.Unix(1_800_000_000, 0) }, "clusterset.local.", "in-addr.arpa.", "42.10.in-addr.arpa.", "ip6.arpa.")
	load(t, m, ptrSet()...)
	rev := func(addrs ...string) []string {
		var out []string
		for _, a := range addrs {
			r, err := dns.ReverseAddr(a)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		return out
	}
	for _, c := range []struct {
		zone string
		ptrs []string // the PTR owner names, in transfer order
	}{
		{"42.10.in-addr.arpa.", rev("10.42.0.1", "10.42.0.2", "10.42.0.4", "10.42.0.5", "10.42.1.1")},
		{"ip6.arpa.", rev("fd00::", "fd00::2", "fd00::3", "fd00::7", "fd00:1::10")},
	} {
		rrs := transferAll(t, m, c.zone, 0)
		if len(rrs) < 3 || rrs[0].Header().Rrtype != dns.TypeSOA || rrs[0].String() != rrs[len(rrs)-1].String() || rrs[0].Header().Name != c.zone {
			t.Fatalf("%s: transfer must start and end with the zone's SOA: %v", c.zone, rrs)
		}
		if ns, ok := rrs[1].(*dns.NS); !ok || ns.Hdr.Name != c.zone || ns.Ns != "ns.dns.clusterset.local." {
			t.Errorf("%s: second record %v, want the apex NS", c.zone, rrs[1])
		}
		var owners []string
		byName := map[string][]string{}
		for _, rr := range rrs[2 : len(rrs)-1] {
			if rr.Header().Rrtype != dns.TypePTR {
				t.Errorf("%s: unexpected record %v", c.zone, rr)
				continue
			}
			if len(owners) == 0 || owners[len(owners)-1] != rr.Header().Name {
				owners = append(owners, rr.Header().Name)
			}
			byName[rr.Header().Name] = append(byName[rr.Header().Name], rr.String())
		}
		if !slices.Equal(owners, c.ptrs) {
			t.Errorf("%s: PTR owners %v, want %v", c.zone, owners, c.ptrs)
		}
		for name, want := range byName {
			w := dnstest.NewRecorder(&test.ResponseWriter{})
			if _, err := m.ServeDNS(context.TODO(), w, test.Case{Qname: name, Qtype: dns.TypePTR}.Msg()); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, rr := range w.Msg.Answer {
				got = append(got, rr.String())
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s: query answers %v, transfer has %v", name, got, want)
			}
		}
		if rrs := transferAll(t, m, c.zone, rrs[0].(*dns.SOA).Serial); len(rrs) != 1 || rrs[0].Header().Rrtype != dns.TypeSOA {
			t.Errorf("%s: IXFR at the current serial: %v, want the SOA alone", c.zone, rrs)
		}
	}
	// in-addr.arpa. holds the narrower zone's addresses too: it is transferred whole.
	names := map[string]int{}
	for _, rr := range transferAll(t, m, "in-addr.arpa.", 0) {
		names[rr.Header().Name]++
	}
	for _, name := range rev("10.42.0.1", "10.42.1.1", "10.1.0.10", "10.7.0.1") {
		if names[name] == 0 {
			t.Errorf("in-addr.arpa.: no PTR for %s", name)
		}
	}
	if n := names[rev("10.7.0.1")[0]]; n != 2 {
		t.Errorf("in-addr.arpa.: %d PTRs for the address two names share, want 2", n)
	}
	if _, err := m.Transfer("10.in-addr.arpa.", 0); err != transfer.ErrNotAuthoritative {
		t.Errorf("a reverse zone not served: %v, want ErrNotAuthoritative", err)
	}
}
