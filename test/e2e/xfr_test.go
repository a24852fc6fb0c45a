package e2e

import (
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// TestZoneTransfer: dig AXFR through the transfer plugin returns every record that
// queries answer, under the same owner names (cluster ids included), SOA first and last,
// in a stable order; IXFR with the current serial returns the SOA alone.
func TestZoneTransfer(t *testing.T) {
	s := need(t)
	dumpLogOnFailure(t, s.dns)
	ns := "xfr"
	loadSpecFixture(t, s.clients, ns)
	eventually(t, s.port, fq("", "down", ns), "A", want{rcode: "NXDOMAIN"}, 5*time.Second)
	eventually(t, s.port, fq("h-0.east", "hl6", ns), "AAAA", want{answer: []string{"AAAA fd00:6::1"}}, 5*time.Second)
	eventually(t, s.port, fq("db-0.west.us", "db", ns), "AAAA", want{answer: []string{"AAAA fd00:2::1"}}, 5*time.Second)

	// A change in the second the serial names moves it the next second: let the
	// second pass so that nothing is pending between the SOA query and the transfer.
	time.Sleep(1100 * time.Millisecond)
	cur := serial(t, s.port)
	rrs, out, err := harness.Transfer(s.port, Zone, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rrs) < 3 {
		t.Fatalf("AXFR returned %d records:\n%s", len(rrs), out)
	}
	first, ok1 := rrs[0].(*dns.SOA)
	last, ok2 := rrs[len(rrs)-1].(*dns.SOA)
	if !ok1 || !ok2 || first.Serial != last.Serial || first.Hdr.Name != Zone {
		t.Fatalf("AXFR must start and end with the zone's SOA: first %v, last %v", rrs[0], rrs[len(rrs)-1])
	}
	if first.Serial != cur {
		t.Errorf("AXFR serial %d, SOA query serial %d (nothing changed in between)", first.Serial, cur)
	}
	t.Logf("AXFR: %d records, serial %d", len(rrs), first.Serial)

	// A second transfer of the same serial is identical, record for record.
	again, _, err := harness.Transfer(s.port, Zone, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rrStrings(rrs), rrStrings(again)) {
		t.Error("two AXFRs of the same serial differ")
	}

	// Group by owner and type; no SOA inside, no repeated record.
	type key struct{ owner, qtype string }
	sets := map[key][]string{}
	var order []key
	seen := map[string]bool{}
	for i, rr := range rrs {
		h := rr.Header()
		if _, ok := rr.(*dns.SOA); ok && i != 0 && i != len(rrs)-1 {
			t.Errorf("SOA inside the transfer at %d", i)
			continue
		}
		if i == len(rrs)-1 {
			continue
		}
		if seen[rr.String()] {
			t.Errorf("AXFR repeats %s", rr)
		}
		seen[rr.String()] = true
		if h.Ttl != defaultTTL {
			t.Errorf("AXFR TTL %d on %s", h.Ttl, rr)
		}
		k := key{h.Name, dns.TypeToString[h.Rrtype]}
		if _, ok := sets[k]; !ok {
			order = append(order, k)
		}
		sets[k] = append(sets[k], harness.Data(rr))
	}

	// The names this namespace must contribute, cluster ids (dots included) in them.
	for _, k := range []key{
		{Zone, "NS"}, {"dns-version." + Zone, "TXT"},
		{fq("", "web", ns), "A"}, {fq("_http._tcp", "web", ns), "SRV"}, {fq("", "web", ns), "SRV"},
		{fq("", "dual", ns), "AAAA"}, {fq("", "db", ns), "A"}, {fq("", "db", ns), "AAAA"},
		{fq("db-0.east", "db", ns), "A"}, {fq("db-0.west.us", "db", ns), "A"}, {fq("db-0.west.us", "db", ns), "AAAA"},
		{fq("fd00-3--0.eu", "db", ns), "AAAA"}, {fq("_pg._tcp", "db", ns), "SRV"}, {fq("", "db", ns), "SRV"},
	} {
		if _, ok := sets[k]; !ok {
			t.Errorf("AXFR lacks %s %s", k.owner, k.qtype)
		}
	}
	for k := range sets {
		if strings.HasSuffix(k.owner, "."+ns+".svc."+Zone) &&
			(strings.HasPrefix(k.owner, "web-0.") || strings.HasPrefix(k.owner, "down.") || strings.Contains(k.owner, "db-2.") || strings.HasPrefix(k.owner, "east.")) {
			t.Errorf("AXFR has %s %s, which queries do not answer", k.owner, k.qtype)
		}
	}

	// Every owner/type of the transfer, asked with dig (one batch): the same RRset.
	qs := make([]harness.Question, len(order))
	for i, k := range order {
		qs[i] = harness.Question{Name: k.owner, Type: k.qtype}
	}
	rs, err := harness.QueryBatch(s.port, qs, "+tcp")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if errs := verify(r, order[i].owner, want{answer: sets[order[i]]}); len(errs) > 0 {
			t.Errorf("AXFR has %s %s = %q; dig: %s\n%s", order[i].owner, order[i].qtype, sets[order[i]], strings.Join(errs, "; "), r.Raw)
		}
	}
	t.Logf("%d owner/type pairs of the transfer asked one by one: same answers", len(order))

	// IXFR with the current serial: the SOA alone. With an older one: the whole zone.
	ixfr, out, err := harness.Transfer(s.port, Zone, &cur)
	if err != nil {
		t.Fatal(err)
	}
	if len(ixfr) != 1 {
		t.Errorf("IXFR=%d: %d records, want the SOA alone:\n%s", cur, len(ixfr), out)
	} else if soa, ok := ixfr[0].(*dns.SOA); !ok || soa.Serial != cur {
		t.Errorf("IXFR=%d: %v, want the SOA with serial %d", cur, ixfr[0], cur)
	}
	older := cur - 1
	full, _, err := harness.Transfer(s.port, Zone, &older)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sorted(rrStrings(full)), sorted(rrStrings(rrs))) {
		t.Errorf("IXFR=%d (older serial): %d records, want the whole zone (%d)", older, len(full), len(rrs))
	}
}

func rrStrings(rrs []dns.RR) []string {
	out := make([]string, len(rrs))
	for i, rr := range rrs {
		out[i] = rr.String()
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}
