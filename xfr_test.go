package multicluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/coredns/coredns/plugin/transfer"
	"github.com/mcs-dns/multicluster/internal/object"
	"github.com/mcs-dns/multicluster/internal/zone"

	"github.com/miekg/dns"
)

func transferAll(t *testing.T, m *MultiCluster, zone string, serial uint32) []dns.RR {
	t.Helper()
	ch, err := m.Transfer(zone, serial)
	if err != nil {
		t.Fatalf("Transfer: %v", err)
	}
	var rrs []dns.RR
	for batch := range ch {
		rrs = append(rrs, batch...)
	}
	return rrs
}

func TestTransferMatchesQueries(t *testing.T) {
	m := syncedPluginAt(func() time.Time { return time.Unix(1_800_000_000, 0) })
	load(t, m, clusterSet()...)
	rrs := transferAll(t, m, "clusterset.local.", 0)
	if len(rrs) < 3 {
		t.Fatalf("transfer has %d records", len(rrs))
	}
	first, last := rrs[0], rrs[len(rrs)-1]
	if first.Header().Rrtype != dns.TypeSOA || last.Header().Rrtype != dns.TypeSOA || first.String() != last.String() {
		t.Fatalf("transfer must start and end with the same SOA, got %s ... %s", first, last)
	}

	// Every record of the transfer is what a query for its name and type answers,
	// and the other way round for the names transferred (spec R11).
	byQuery := map[[2]any][]string{}
	for _, rr := range rrs[1 : len(rrs)-1] {
		k := [2]any{rr.Header().Name, rr.Header().Rrtype}
		byQuery[k] = append(byQuery[k], rr.String())
	}
	for k, want := range byQuery {
		w := dnstest.NewRecorder(&test.ResponseWriter{})
		if _, err := m.ServeDNS(context.TODO(), w, test.Case{Qname: k[0].(string), Qtype: k[1].(uint16)}.Msg()); err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, rr := range w.Msg.Answer {
			got[rr.String()] = true
		}
		if len(got) != len(want) {
			t.Errorf("%s %s: query answers %d records, transfer has %d", k[0], dns.TypeToString[k[1].(uint16)], len(got), len(want))
		}
		for _, s := range want {
			if !got[s] {
				t.Errorf("transferred %q is not in the query answer", s)
			}
		}
	}

	// Names with the cluster id, dotted ones included, are transferred as queried.
	for _, name := range []string{"db-0.east.db.shop.svc.clusterset.local.", "db-0.west.us.db.shop.svc.clusterset.local.", "dns-version.clusterset.local.", "ns.dns.clusterset.local."} {
		found := false
		for k := range byQuery {
			found = found || k[0] == name
		}
		if !found {
			t.Errorf("%s missing from the transfer", name)
		}
	}
	// No name appears without its data or twice.
	seen := map[string]bool{}
	for _, rr := range rrs[1 : len(rrs)-1] {
		if seen[rr.String()] {
			t.Errorf("duplicate record %s", rr)
		}
		seen[rr.String()] = true
	}

	// Deterministic: a second transfer of the same serial is identical.
	again := transferAll(t, m, "clusterset.local.", 0)
	if len(again) != len(rrs) {
		t.Fatalf("second transfer has %d records, first %d", len(again), len(rrs))
	}
	for i := range rrs {
		if rrs[i].String() != again[i].String() {
			t.Fatalf("record %d differs between transfers: %s vs %s", i, rrs[i], again[i])
		}
	}
}

func TestTransferIXFR(t *testing.T) {
	clock := time.Unix(1_800_000_000, 0)
	m := syncedPluginAt(func() time.Time { return clock })
	load(t, m, clusterSet()...)
	clock = clock.Add(time.Second)
	serial := m.index.Serial().Observe()
	for _, s := range []uint32{serial, serial + 1} {
		rrs := transferAll(t, m, "clusterset.local.", s)
		if len(rrs) != 1 || rrs[0].Header().Rrtype != dns.TypeSOA || rrs[0].(*dns.SOA).Serial != serial {
			t.Errorf("IXFR from serial %d: want the current SOA alone, got %v", s, rrs)
		}
	}
	// An older serial falls back to a full transfer.
	if rrs := transferAll(t, m, "clusterset.local.", serial-1); len(rrs) < 10 {
		t.Errorf("IXFR from an older serial should be a full transfer, got %d records", len(rrs))
	}
}

func TestTransferRefusals(t *testing.T) {
	m := syncedPlugin()
	if _, err := m.Transfer("example.org.", 0); !errors.Is(err, transfer.ErrNotAuthoritative) {
		t.Errorf("other zone: %v, want ErrNotAuthoritative", err)
	}
	if _, err := m.Transfer("shop.svc.clusterset.local.", 0); !errors.Is(err, transfer.ErrNotAuthoritative) {
		t.Errorf("subzone: %v, want ErrNotAuthoritative", err)
	}
	m.ctrl.state.Store(int32(stateSyncing))
	if _, err := m.Transfer("clusterset.local.", 0); !errors.Is(err, errNotSynced) {
		t.Errorf("unsynced: %v, want errNotSynced", err)
	}
}

func TestSerialMovesOnEveryChange(t *testing.T) {
	clock := time.Unix(1_800_000_000, 0)
	m := syncedPluginAt(func() time.Time { return clock })
	k := object.ServiceKey{Namespace: "shop", Name: "web"}
	r := func(ip string) *zone.Records {
		tr, _ := object.TransformImport(clusterSetIP("shop", "web", []string{ip}, nil))
		return zone.Build(tr.(*object.ServiceImport), nil, m.longestZone(), func(string, string) {})
	}
	prev := m.index.Serial().Observe()
	steps := []struct {
		what    string
		rec     *zone.Records
		changed bool
	}{
		{"add", r("10.0.0.1"), true},
		{"same again", r("10.0.0.1"), false},
		{"ip change", r("10.0.0.2"), true},
		{"delete", nil, true},
		{"delete again", nil, false},
	}
	for _, st := range steps {
		changed, _ := m.index.Publish(k, st.rec)
		clock = clock.Add(time.Second)
		s := m.index.Serial().Observe()
		if changed != st.changed || (s != prev) != st.changed {
			t.Errorf("%s: changed=%v serial %d -> %d, want changed=%v", st.what, changed, prev, s, st.changed)
		}
		if int32(s-prev) < 0 {
			t.Errorf("%s: serial went back from %d to %d", st.what, prev, s)
		}
		prev = s
	}
}
