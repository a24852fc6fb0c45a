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

// inTreeCorefile is CoreDNS's own MCS support, the kubernetes plugin's multicluster
// option (CoreDNS v1.15.0 plugin/kubernetes/README.md: the multicluster zone must also be
// one of the plugin's zones), as clusters configure it today. With ours, when both are
// set, the multicluster directive follows it in the same block.
func inTreeCorefile(port, ready int, kubeconfig string, both bool) string {
	ours := "    transfer {\n        to *\n    }\n"
	if both {
		ours = fmt.Sprintf("    multicluster clusterset.local {\n        kubeconfig %s\n    }\n", kubeconfig)
	}
	return fmt.Sprintf(`.:%d {
    bind 127.0.0.1
    errors
    ready 127.0.0.1:%d
    kubernetes cluster.local clusterset.local {
        kubeconfig %s
        multicluster clusterset.local
    }
%s}
`, port, ready, kubeconfig, ours)
}

// TestMigrationFromInTree runs the kubernetes plugin's multicluster option and this
// plugin (the suite's CoreDNS) against the same objects. Where the MCS DNS specification
// fixes the answer — ClusterSetIP and headless A records, per-endpoint names, SRV
// records, NXDOMAIN for names that do not exist — the two must agree, so moving the
// Corefile from one to the other changes nothing for clients. Where they differ, the
// difference is the one README "Migrating from the kubernetes plugin's multicluster
// option" explains. With both configured in one block, the kubernetes plugin, earlier in
// the plugin chain, answers the whole zone.
func TestMigrationFromInTree(t *testing.T) {
	s := need(t)
	ctx := context.Background()
	ns := "migration"
	c := s.clients
	mustNamespace(t, c, ns)
	mustImport(t, c, harness.Import{Namespace: ns, Name: "web", IPs: []string{"10.49.0.1"}, Families: v4only, Ports: []harness.Port{harness.TCP("http", 80)}}, false)
	mustImport(t, c, harness.Import{Namespace: ns, Name: "db", Headless: true, Families: v4only, Ports: []harness.Port{harness.TCP("pg", 5432)}}, false)
	mustSlice(t, c, harness.Slice{Namespace: ns, Name: "db-east", Service: "db", Cluster: "east", Ports: []harness.Port{harness.TCP("pg", 5432)},
		Endpoints: []harness.Endpoint{harness.Ready("db-0", "10.49.1.1")}})
	mustSlice(t, c, harness.Slice{Namespace: ns, Name: "db-west", Service: "db", Cluster: "west", Ports: []harness.Port{harness.TCP("pg", 5432)},
		Endpoints: []harness.Endpoint{harness.Ready("db-1", "10.49.2.1")}})
	// A cluster id with a dot (RFC 1123 subdomain, as the About API allows).
	mustImport(t, c, harness.Import{Namespace: ns, Name: "cache", Headless: true, Families: v4only, Ports: []harness.Port{harness.TCP("redis", 6379)}}, false)
	mustSlice(t, c, harness.Slice{Namespace: ns, Name: "cache-eu", Service: "cache", Cluster: "eu.west", Ports: []harness.Port{harness.TCP("redis", 6379)},
		Endpoints: []harness.Endpoint{harness.Ready("r-0", "10.49.3.1")}})
	// Addresses of a family the ServiceImport does not list.
	mustImport(t, c, harness.Import{Namespace: ns, Name: "dual", IPs: []string{"10.49.4.1", "fd00:49::1"}, Families: v4only, Ports: []harness.Port{harness.TCP("http", 80)}}, false)
	eventually(t, s.port, fq("r-0.eu.west", "cache", ns), "A", want{answer: []string{"A 10.49.3.1"}}, 5*time.Second)

	ports, err := harness.FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	inTree := startWithReady(t, ctx, ports[0], ports[1], inTreeCorefile(ports[0], ports[1], s.kubeconfig, false))
	web, db := fq("", "web", ns), fq("", "db", ns)
	eventually(t, inTree, fq("db-1.west", "db", ns), "A", want{answer: []string{"A 10.49.2.1"}, foreign: true}, 5*time.Second)

	// What the specification fixes: both must give exactly this.
	same := []row{
		{web, "A", want{answer: []string{"A 10.49.0.1"}}},
		{db, "A", want{answer: []string{"A 10.49.1.1", "A 10.49.2.1"}}},
		{fq("db-0.east", "db", ns), "A", want{answer: []string{"A 10.49.1.1"}}},
		{fq("db-1.west", "db", ns), "A", want{answer: []string{"A 10.49.2.1"}}},
		{"_http._tcp." + web, "SRV", want{answer: []string{"SRV 80 " + web}}},
		{"_pg._tcp." + db, "SRV", want{answer: []string{"SRV 5432 " + fq("db-0.east", "db", ns), "SRV 5432 " + fq("db-1.west", "db", ns)}}},
		{fq("", "missing", ns), "A", want{rcode: "NXDOMAIN"}},
		{fq("db-9.east", "db", ns), "A", want{rcode: "NXDOMAIN"}},
		{fq("db-0.north", "db", ns), "A", want{rcode: "NXDOMAIN"}},
		{fq("", "web", "nowhere"), "A", want{rcode: "NXDOMAIN"}},
	}
	for _, r := range same {
		ours := answerOf(t, s.port, r.name, r.qtype)
		theirs := answerOf(t, inTree, r.name, r.qtype)
		exp := r.want.String()
		if ours != exp || theirs != exp {
			t.Errorf("%s %s: multicluster %s, kubernetes multicluster %s; the specification says %s", r.name, r.qtype, ours, theirs, exp)
		}
	}

	// Where they differ (README "Migrating from the kubernetes plugin's multicluster
	// option"): this plugin's answer, then the in-tree one.
	differ := []struct {
		name, qtype  string
		ours, theirs string
		why          string
	}{
		{"dns-version.clusterset.local.", "TXT", `NOERROR [TXT "1.0.0"]`, `NOERROR [TXT "1.1.0"]`,
			"the MCS DNS schema version: the in-tree option reports the kubernetes plugin's cluster.local schema"},
		{fq("r-0.eu.west", "cache", ns), "A", "NOERROR [A 10.49.3.1]", "NXDOMAIN []",
			"a cluster id with a dot: the in-tree parser takes one label"},
		{fq("east", "db", ns), "A", "NOERROR []", "NXDOMAIN []",
			"an empty non-terminal (names exist below it): NODATA per RFC 8020"},
		{fq("", "dual", ns), "AAAA", "NOERROR []", "NOERROR [AAAA fd00:49::1]",
			"ipFamilies lists IPv4 only: the in-tree option serves every address in ips"},
	}
	for _, d := range differ {
		ours := answerOf(t, s.port, d.name, d.qtype)
		theirs := answerOf(t, inTree, d.name, d.qtype)
		if ours != d.ours || theirs != d.theirs {
			t.Errorf("%s %s (%s): multicluster %s, kubernetes multicluster %s; want %s and %s", d.name, d.qtype, d.why, ours, theirs, d.ours, d.theirs)
		}
	}

	// AXFR: the in-tree option names headless endpoints without their cluster id, so its
	// zone transfer holds names that queries do not answer.
	ourNames, theirNames := axfrNames(t, s.port), axfrNames(t, inTree)
	for _, n := range []string{fq("db-0.east", "db", ns), fq("db-1.west", "db", ns)} {
		if !ourNames[n] || theirNames[n] {
			t.Errorf("AXFR has %s: multicluster %v, kubernetes multicluster %v; want true, false", n, ourNames[n], theirNames[n])
		}
	}
	if n := fq("db-0", "db", ns); ourNames[n] || !theirNames[n] {
		t.Errorf("AXFR has %s: multicluster %v, kubernetes multicluster %v; want false, true", n, ourNames[n], theirNames[n])
	}

	// Both at once: the kubernetes plugin answers every clusterset.local name (it is
	// authoritative for the zone and has no fallthrough), so multicluster never sees a
	// query: the answers are the in-tree ones.
	both := startWithReady(t, ctx, ports[2], ports[3], inTreeCorefile(ports[2], ports[3], s.kubeconfig, true))
	for _, d := range differ {
		if got := answerOf(t, both, d.name, d.qtype); got != d.theirs {
			t.Errorf("both configured: %s %s: %s, want the in-tree %s", d.name, d.qtype, got, d.theirs)
		}
	}
}

// startWithReady starts bin/coredns with corefile and waits for its ready plugin.
func startWithReady(t *testing.T, ctx context.Context, port, ready int, corefile string) int {
	t.Helper()
	startTestCoreDNS(t, port, corefile)
	if err := waitReady(ctx, ready, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	return port
}

// answerOf is the rcode and the sorted answer section, as want.String prints them.
func answerOf(t *testing.T, port int, name, qtype string) string {
	t.Helper()
	r, err := harness.Query(port, name, qtype)
	if err != nil {
		t.Fatal(err)
	}
	got := harness.Datas(r.Answer)
	sort.Strings(got)
	return want{rcode: r.Status, answer: slices.Clip(got)}.String()
}

// axfrNames is the set of owner names in the clusterset.local zone transfer.
func axfrNames(t *testing.T, port int) map[string]bool {
	t.Helper()
	rrs, out, err := harness.Transfer(port, Zone, nil)
	if err != nil {
		t.Fatalf("AXFR from port %d: %v\n%s", port, err, out)
	}
	names := map[string]bool{}
	for _, rr := range rrs {
		names[strings.ToLower(rr.Header().Name)] = true
	}
	return names
}
