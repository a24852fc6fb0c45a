package e2e

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// relay is a real DNS forwarder in front of the standalone server.
type relay struct {
	name string
	port int
	// cachesNegative: whether it keeps NXDOMAIN and NODATA (for the SOA's TTL).
	cachesNegative bool
	// down is what it answers for a name it holds no answer for while the standalone
	// server is down: "SERVFAIL", or "no answer" (the client times out).
	down string
}

// TestStandaloneBehind runs the standalone server (bin/coredns with
// deploy/standalone's Corefile) and, in front of it, the forwarders of README
// "Deploying", each configured from the files it quotes:
//   - stock CoreDNS v1.15.0 (no plugin) with the clusterset.local stanza of EKS's
//     add-on value and AKS's and k3s's coredns-custom ConfigMap;
//   - dnsmasq with kube-dns's flags and its stubDomains, as GKE's kube-dns runs it;
//   - NodeLocal DNSCache's clusterset.local stanza (nodeLocalCorefile) in front of that
//     stock CoreDNS. What runs is the stanza's plugins (cache, forward with force_tcp, ...)
//     in upstream CoreDNS, not the k8s-dns-node-cache binary: no link-local listen address
//     and no iptables rules, which only change how pods reach it, not what it answers.
//
// Through each: every spec row answers as it does directly; negative answers carry the
// zone's SOA, whose TTL bounds how long a cache keeps them (RFC 2308 §5); a change shows
// once the TTL has passed; with the standalone server down, what each one answers.
func TestStandaloneBehind(t *testing.T) {
	s := need(t)
	ctx := context.Background()
	p := standalonePaths{root: s.root}
	stock := stockCoreDNSBinary(t, s.root)
	ports, err := harness.FreePorts(8)
	if err != nil {
		t.Fatal(err)
	}
	sa, saHealth, saReady, saMetrics, stockPort, dnsmasqPort, nlPort, nlMetrics :=
		ports[0], ports[1], ports[2], ports[3], ports[4], ports[5], ports[6], ports[7]

	ns := "behind"
	loadSpecFixture(t, s.clients, ns)
	saCorefile := p.corefile(t, s.kubeconfig, sa, saHealth, saReady, saMetrics)
	server := startTestCoreDNS(t, sa, saCorefile)
	if err := waitReady(ctx, saReady, 30*time.Second); err != nil {
		t.Fatal(err)
	}

	startStockCoreDNS(t, stock, stockPort, p.stockCorefile(t, stockPort, sa))
	stubs := p.stubDomains(t)
	for d := range stubs {
		stubs[d] = []string{fmt.Sprintf("127.0.0.1:%d", sa)} // the Service's address, here
	}
	startDnsmasq(t, dnsmasqPort, stubs)
	startStockCoreDNS(t, stock, nlPort, nodeLocalCorefile(nlPort, stockPort, nlMetrics))

	// What each one really does, measured here (README "Deploying"): CoreDNS's forward
	// answers SERVFAIL as soon as its upstream refuses, and its cache keeps negative
	// answers for the SOA's TTL; dnsmasq, as kube-dns runs it (--no-negcache), keeps no
	// negative answers, and with its server down it does not answer at all.
	relays := []relay{
		{name: "stock CoreDNS forward", port: stockPort, cachesNegative: true, down: "SERVFAIL"},
		{name: "dnsmasq (kube-dns stubDomains)", port: dnsmasqPort, down: "no answer"},
		{name: "NodeLocal DNSCache -> stock CoreDNS", port: nlPort, cachesNegative: true, down: "SERVFAIL"},
	}

	// The fixture is loaded: the last objects show directly.
	eventually(t, sa, fq("", "down", ns), "A", want{rcode: "NXDOMAIN"}, 5*time.Second)
	eventually(t, sa, fq("h-0.east", "hl6", ns), "AAAA", want{answer: []string{"AAAA fd00:6::1"}}, 5*time.Second)

	rows := behindRows(ns)
	t.Run("answers", func(t *testing.T) {
		// Directly, as the spec says.
		expectRows(t, sa, rows)
		for _, r := range relays {
			t.Run(r.name, func(t *testing.T) {
				for pass := range 2 { // the second pass is answered from the caches
					checkRelayed(t, r, pass, rows)
				}
			})
		}
	})

	t.Run("change after TTL", func(t *testing.T) {
		changeThroughRelays(t, s, sa, ns, relays)
	})

	t.Run("standalone down", func(t *testing.T) {
		standaloneDown(t, server, saCorefile, sa, saReady, ns, relays)
	})
}

// behindRows are the spec rows asked through each forwarder: one or more per row of
// shared/spec/mcs-dns.md, positive and negative.
func behindRows(ns string) []row {
	srv := func(port, target string) string { return "SRV " + port + " " + target }
	web, db := fq("", "web", ns), fq("", "db", ns)
	east, west, eu := fq("db-0.east", "db", ns), fq("db-0.west.us", "db", ns), fq("10-3-0-1.eu", "db", ns)
	dbSRV := []string{
		srv("5432", east), srv("5432", fq("db-1.east", "db", ns)),
		srv("15432", west), srv("15432", fq("db-4.west.us", "db", ns)),
		srv("5432", eu), srv("5432", fq("fd00-3--0.eu", "db", ns)),
	}
	nx, nodata := want{rcode: "NXDOMAIN"}, want{}
	return []row{
		{"dns-version." + Zone, "TXT", want{answer: []string{`TXT "1.0.0"`}}},                                                                // R1
		{web, "A", want{answer: []string{"A 10.42.0.10"}}},                                                                                   // R2
		{fq("", "v6", ns), "AAAA", want{answer: []string{"AAAA fd00:42::10"}}},                                                               // R2
		{fq("", "dual", ns), "AAAA", want{answer: []string{"AAAA fd00:42::20"}}},                                                             // R2
		{fq("_http._tcp", "web", ns), "SRV", want{answer: []string{srv("80", web)}}},                                                         // R3
		{fq("", "dup", ns), "SRV", want{answer: []string{srv("42", fq("", "dup", ns))}}},                                                     // R4
		{db, "A", want{answer: []string{"A 10.1.0.1", "A 10.1.0.2", "A 10.1.0.12", "A 10.2.0.1", "A 10.2.0.5", "A 10.3.0.1", "A 10.9.0.1"}}}, // R5
		{db, "AAAA", want{answer: []string{"AAAA fd00:2::1", "AAAA fd00:3::"}}},                                                              // R5
		{fq("db-1.east", "db", ns), "A", want{answer: []string{"A 10.1.0.2", "A 10.1.0.12"}}},                                                // R6
		{west, "AAAA", want{answer: []string{"AAAA fd00:2::1"}}},                                                                             // R6, a dotted cluster id
		{eu, "A", want{answer: []string{"A 10.3.0.1"}}},                                                                                      // R6, named after the address
		{fq("_pg._tcp", "db", ns), "SRV", want{answer: dbSRV}},                                                                               // R7
		{db, "SRV", want{answer: dbSRV}},                                                                                                     // R8
		{Zone, "SOA", want{answer: []string{"SOA ns.dns.clusterset.local. hostmaster.clusterset.local. 7200 1800 86400 5"}}},                 // R10
		{Zone, "NS", want{answer: []string{"NS ns.dns.clusterset.local."}}},                                                                  // R10
		{fq("", "missing", ns), "A", nx},                                                                                                     // no such service
		{fq("", "down", ns), "A", nx},                                                                                                        // R5: no ready endpoint
		{fq("db-2.west.us", "db", ns), "A", nx},                                                                                              // R6: not ready
		{fq("_pg._udp", "db", ns), "SRV", nx},                                                                                                // R7: no such port
		{web, "AAAA", nodata},                                                                                                                // R2: IPv4-only
		{fq("", "noips", ns), "A", nodata},                                                                                                   // R2: no ips
		{fq("east", "db", ns), "A", nodata},                                                                                                  // R9: empty non-terminal
		{fq("west.us", "db", ns), "SRV", nodata},                                                                                             // R9
	}
}

// checkRelayed asks every row through r and checks what a client needs from a relayed
// answer: the rcode and the records, TTLs no longer than the plugin's, and on a negative
// answer the zone's SOA whose TTL and minimum are the plugin's ttl, so no cache keeps it
// longer (RFC 2308 §5). The TTLs count down in caches, so they are bounds here.
func checkRelayed(t *testing.T, r relay, pass int, rows []row) {
	t.Helper()
	qs := make([]harness.Question, len(rows))
	for i, row := range rows {
		qs[i] = harness.Question{Name: row.name, Type: row.qtype}
	}
	rs, err := harness.QueryBatch(r.port, qs)
	if err != nil {
		t.Fatal(err)
	}
	for i, resp := range rs {
		if errs := relayedProblems(resp, rows[i].want); len(errs) > 0 {
			t.Errorf("pass %d: %s %s through %s: %s\n%s", pass, rows[i].name, rows[i].qtype, r.name, strings.Join(errs, "; "), resp.Raw)
		}
	}
}

func relayedProblems(r *harness.Response, w want) []string {
	var errs []string
	rcode := w.rcode
	if rcode == "" {
		rcode = "NOERROR"
	}
	if r.Status != rcode {
		errs = append(errs, fmt.Sprintf("status %s, want %s", r.Status, rcode))
	}
	got, exp := harness.Datas(r.Answer), slices.Clone(w.answer)
	sort.Strings(got)
	sort.Strings(exp)
	if !slices.Equal(got, exp) {
		errs = append(errs, fmt.Sprintf("answer %q, want %q", got, exp))
	}
	for _, rr := range r.Answer {
		if rr.Header().Ttl > defaultTTL {
			errs = append(errs, fmt.Sprintf("TTL %d above the plugin's %d: %s", rr.Header().Ttl, defaultTTL, rr))
		}
	}
	if len(r.Answer) == 0 {
		soas := authoritySOAs(r)
		switch {
		case len(soas) != 1:
			errs = append(errs, fmt.Sprintf("%d SOA records in authority, want the zone's", len(soas)))
		case soas[0].Hdr.Name != Zone || soas[0].Minttl != defaultTTL || soas[0].Hdr.Ttl > defaultTTL:
			errs = append(errs, fmt.Sprintf("SOA %s, want %s with TTL and minimum at most %d", soas[0], Zone, defaultTTL))
		}
	}
	return errs
}
