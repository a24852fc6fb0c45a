package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// nodeLocalCorefile is node-local-dns's stanza for the cluster domain, written for
// clusterset.local: the same plugins and cache limits as the `__PILLAR__DNS__DOMAIN__:53`
// block of kubernetes/kubernetes cluster/addons/dns/nodelocaldns/nodelocaldns.yaml, with
// its addresses replaced by this machine's (bind: the link-local and kube-dns addresses
// there, 127.0.0.1 here; forward: the kube-dns-upstream Service there, the suite's
// CoreDNS here). README "NodeLocal DNSCache" documents the same stanza.
func nodeLocalCorefile(port, upstream, metrics int) string {
	return fmt.Sprintf(`clusterset.local:%d {
    errors
    cache {
            success 9984 30
            denial 9984 5
    }
    reload
    loop
    bind 127.0.0.1
    forward . 127.0.0.1:%d {
            force_tcp
    }
    prometheus 127.0.0.1:%d
    }
`, port, upstream, metrics)
}

// TestNodeLocalDNSCache puts a second CoreDNS configured as node-local-dns in front of the
// suite's: answers pass through it unchanged, negative answers carry the zone's SOA whose
// TTL (the plugin's ttl, 5 s) is how long the cache keeps them (RFC 2308 §5), and a change
// shows through the cache once that TTL has passed, never later.
func TestNodeLocalDNSCache(t *testing.T) {
	s := need(t)
	ctx := context.Background()
	ports, err := harness.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	port, metrics := ports[0], ports[1]
	startTestCoreDNS(t, port, nodeLocalCorefile(port, s.port, metrics))

	ns := "nodelocal"
	mustNamespace(t, s.clients, ns)
	mustImport(t, s.clients, harness.Import{Namespace: ns, Name: "web", IPs: []string{"10.46.0.1"}, Families: v4only, Ports: []harness.Port{harness.TCP("http", 80)}}, false)
	mustImport(t, s.clients, harness.Import{Namespace: ns, Name: "db", Headless: true, Families: v4only, Ports: []harness.Port{harness.TCP("pg", 5432)}}, false)
	mustSlice(t, s.clients, harness.Slice{Namespace: ns, Name: "db-east", Service: "db", Cluster: "east", Ports: []harness.Port{harness.TCP("pg", 5432)},
		Endpoints: []harness.Endpoint{harness.Ready("db-0", "10.46.1.1")}})
	web, db := fq("", "web", ns), fq("", "db", ns)
	eventually(t, s.port, db, "A", want{answer: []string{"A 10.46.1.1"}}, 5*time.Second)

	// Through the cache: the same answers, authoritative data with TTLs counting down
	// from the plugin's.
	for _, q := range []struct {
		name, qtype string
		rcode       string
		answer      []string
	}{
		{web, "A", "NOERROR", []string{"A 10.46.0.1"}},
		{db, "A", "NOERROR", []string{"A 10.46.1.1"}},
		{fq("db-0.east", "db", ns), "A", "NOERROR", []string{"A 10.46.1.1"}},
		{"_http._tcp." + web, "SRV", "NOERROR", []string{"SRV 80 " + web}},
		{"dns-version.clusterset.local.", "TXT", "NOERROR", []string{`TXT "1.0.0"`}},
		{fq("", "missing", ns), "A", "NXDOMAIN", nil},     // no such service
		{web, "AAAA", "NOERROR", nil},                     // NODATA: an IPv4-only service
		{fq("east", "db", ns), "A", "NOERROR", nil},       // NODATA: the cluster's name exists below the service
		{fq("db-9.east", "db", ns), "A", "NXDOMAIN", nil}, // no such endpoint
	} {
		for pass := range 2 { // the second pass is answered from the cache
			r, err := harness.Query(port, q.name, q.qtype)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != q.rcode || fmt.Sprint(harness.Datas(r.Answer)) != fmt.Sprint(q.answer) {
				t.Errorf("pass %d: %s %s through node-local: %s %v, want %s %v\n%s", pass, q.name, q.qtype, r.Status, harness.Datas(r.Answer), q.rcode, q.answer, r.Raw)
				continue
			}
			for _, rr := range r.Answer {
				if rr.Header().Ttl > defaultTTL {
					t.Errorf("%s: TTL %d above the plugin's %d", rr, rr.Header().Ttl, defaultTTL)
				}
			}
			if len(r.Answer) == 0 {
				checkNegativeSOA(t, r)
			}
		}
	}

	// A negative answer is cached for the SOA's TTL; the name shows once it has passed.
	later := fq("", "later", ns)
	primed := time.Now()
	if r, err := harness.Query(port, later, "A"); err != nil || r.Status != "NXDOMAIN" {
		t.Fatalf("%s before it exists: %v %v", later, r, err)
	}
	mustImport(t, s.clients, harness.Import{Namespace: ns, Name: "later", IPs: []string{"10.46.0.2"}, Families: v4only, Ports: []harness.Port{harness.TCP("http", 80)}}, false)
	eventually(t, s.port, later, "A", want{answer: []string{"A 10.46.0.2"}}, 3*time.Second)
	if r, err := harness.Query(port, later, "A"); err == nil && time.Since(primed) < 4*time.Second && r.Status != "NXDOMAIN" {
		t.Errorf("%s %s after being created: the cached NXDOMAIN should still be served:\n%s", time.Since(primed).Round(time.Millisecond), later, r.Raw)
	}
	shown := waitNodeLocal(t, port, later, "A", "A 10.46.0.2", primed, defaultTTL*time.Second+2*time.Second)
	t.Logf("%s visible through node-local %s after the NXDOMAIN was cached (negative TTL %ds)", later, shown.Round(time.Millisecond), defaultTTL)

	// A positive answer is cached for the record's TTL; a new address shows once it passed.
	primed = time.Now()
	if r, err := harness.Query(port, web, "A"); err != nil || fmt.Sprint(harness.Datas(r.Answer)) != "[A 10.46.0.1]" {
		t.Fatalf("%s: %v %v", web, r, err)
	}
	if err := s.clients.UpdateImport(ctx, harness.Import{Namespace: ns, Name: "web", IPs: []string{"10.46.0.9"}, Families: v4only, Ports: []harness.Port{harness.TCP("http", 80)}}, false); err != nil {
		t.Fatal(err)
	}
	eventually(t, s.port, web, "A", want{answer: []string{"A 10.46.0.9"}}, 3*time.Second)
	shown = waitNodeLocal(t, port, web, "A", "A 10.46.0.9", primed, defaultTTL*time.Second+2*time.Second)
	t.Logf("%s's new address visible through node-local %s after the old one was cached (TTL %ds)", web, shown.Round(time.Millisecond), defaultTTL)
}

// checkNegativeSOA checks a negative answer carries the zone's SOA with a TTL no longer
// than its minimum, the plugin's ttl: the cache must keep it no longer (RFC 2308 §5).
func checkNegativeSOA(t *testing.T, r *harness.Response) {
	t.Helper()
	for _, rr := range r.Authority {
		if soa, ok := rr.(*dns.SOA); ok {
			if soa.Hdr.Name != Zone || soa.Minttl != defaultTTL || soa.Hdr.Ttl > defaultTTL {
				t.Errorf("%s %s: SOA %s, want %s with TTL and minimum at most %d", r.Qname, r.Qtype, soa, Zone, defaultTTL)
			}
			return
		}
	}
	t.Errorf("%s %s: %s without an SOA in authority:\n%s", r.Qname, r.Qtype, r.Status, r.Raw)
}

// waitNodeLocal digs until the answer is answer and returns how long after primed that
// was; it fails if that takes longer than limit after primed.
func waitNodeLocal(t *testing.T, port int, name, qtype, answer string, primed time.Time, limit time.Duration) time.Duration {
	t.Helper()
	for {
		r, err := harness.Query(port, name, qtype)
		if err == nil && strings.Join(harness.Datas(r.Answer), " ") == answer {
			return time.Since(primed)
		}
		if time.Since(primed) > limit {
			t.Fatalf("%s %s through node-local: not %q %s after the cache was primed: %v %v", name, qtype, answer, limit, r, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
