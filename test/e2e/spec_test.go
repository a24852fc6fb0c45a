package e2e

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"

	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// specNamespace is loaded with a ClusterSet of three clusters (east, west.us with a dot,
// eu) by loadSpecFixture; TestSpec checks every row of shared/spec/mcs-dns.md on it.
const specNamespace = "spec"

var (
	v4     = corev1.IPv4Protocol
	v6     = corev1.IPv6Protocol
	v4only = []corev1.IPFamily{v4}
	v6only = []corev1.IPFamily{v6}
	dual   = []corev1.IPFamily{v4, v6}
)

const (
	ipv4 = discovery.AddressTypeIPv4
	ipv6 = discovery.AddressTypeIPv6
)

func loadSpecFixture(t *testing.T, c Clients, ns string) {
	t.Helper()
	mustNamespace(t, c, ns)
	imports := []harness.Import{
		// ClusterSetIP: named TCP, UDP and SCTP ports, and an unnamed one.
		{Name: "web", IPs: []string{"10.42.0.10"}, Families: v4only,
			Ports: []harness.Port{harness.TCP("http", 80), harness.UDP("dns", 53), {Port: 8080}, harness.SCTP("sig", 9000)}},
		// The conformance case: tcp/42 and udp/42 make one bare-name SRV.
		{Name: "dup", IPs: []string{"10.42.0.11"}, Families: v4only, Ports: []harness.Port{harness.TCP("a", 42), harness.UDP("b", 42)}},
		{Name: "v6", IPs: []string{"fd00:42::10"}, Families: v6only, Ports: []harness.Port{harness.TCP("http", 80)}},
		{Name: "dual", IPs: []string{"10.42.0.20", "fd00:42::20"}, Families: dual, Ports: []harness.Port{harness.TCP("http", 80)}},
		// ipFamilies filters: the IPv6 VIP is not served.
		{Name: "dual4", IPs: []string{"10.42.0.30", "fd00:42::30"}, Families: v4only, Ports: []harness.Port{harness.TCP("http", 80)}},
		// No ipFamilies (older controllers): the families present in ips count.
		{Name: "nofam", IPs: []string{"10.42.0.40", "fd00:42::40"}, Ports: []harness.Port{harness.TCP("http", 80)}},
		{Name: "noips", Ports: []harness.Port{harness.TCP("http", 80)}},
		// Headless, StatefulSet-like, dual-stack, across three clusters.
		{Name: "db", Headless: true, Families: dual, Ports: []harness.Port{harness.TCP("pg", 5432)}},
		// Headless limited to IPv4 although a cluster exports IPv6 endpoints.
		{Name: "hl4", Headless: true, Families: v4only, Ports: []harness.Port{harness.TCP("http", 80)}},
		// Headless with IPv6 endpoints only and no ipFamilies.
		{Name: "hl6", Headless: true, Ports: []harness.Port{harness.TCP("http", 80)}},
		// Headless with no ready endpoint anywhere.
		{Name: "down", Headless: true, Families: dual, Ports: []harness.Port{harness.TCP("http", 80)}},
	}
	for _, i := range imports {
		i.Namespace = ns
		mustImport(t, c, i, false)
	}
	pg := []harness.Port{harness.TCP("pg", 5432)}
	pgWest := []harness.Port{harness.TCP("pg", 15432)} // the port number comes from each cluster's slice
	http := []harness.Port{harness.TCP("http", 80)}
	slices := []harness.Slice{
		// Endpoints of a ClusterSetIP service are never published.
		{Name: "web-east", Service: "web", Cluster: "east", Ports: http, Endpoints: []harness.Endpoint{harness.Ready("web-0", "10.1.1.1")}},

		{Name: "db-east-a", Service: "db", Cluster: "east", Ports: pg,
			Endpoints: []harness.Endpoint{harness.Ready("db-0", "10.1.0.1"), harness.Ready("db-1", "10.1.0.2")}},
		// The same endpoint again, and a second endpoint named db-1.
		{Name: "db-east-b", Service: "db", Cluster: "east", Ports: pg,
			Endpoints: []harness.Endpoint{harness.Ready("db-0", "10.1.0.1"), harness.Ready("db-1", "10.1.0.12")}},
		{Name: "db-west-v4", Service: "db", Cluster: "west.us", Ports: pgWest,
			Endpoints: []harness.Endpoint{harness.Ready("db-0", "10.2.0.1"), harness.NotReady("db-2", "10.2.0.3"),
				harness.Terminating("db-3", "10.2.0.4"), harness.Unset("db-4", "10.2.0.5")}},
		{Name: "db-west-v6", Service: "db", Cluster: "west.us", AddressType: ipv6, Ports: pgWest,
			Endpoints: []harness.Endpoint{harness.Ready("db-0", "fd00:2::1")}},
		// Endpoints without hostnames: named after their address.
		{Name: "db-eu-v4", Service: "db", Cluster: "eu", Ports: pg, Endpoints: []harness.Endpoint{harness.Ready("", "10.3.0.1")}},
		{Name: "db-eu-v6", Service: "db", Cluster: "eu", AddressType: ipv6, Ports: pg, Endpoints: []harness.Endpoint{harness.Ready("", "fd00:3::")}},
		// No source-cluster label: the service name only.
		{Name: "db-nolabel", Service: "db", Ports: pg, Endpoints: []harness.Endpoint{harness.Ready("db-9", "10.9.0.1")}},
		// FQDN slices are ignored.
		{Name: "db-fqdn", Service: "db", Cluster: "east", AddressType: discovery.AddressTypeFQDN, Ports: pg,
			Endpoints: []harness.Endpoint{harness.Ready("db-7", "db7.example.org")}},

		{Name: "hl4-east", Service: "hl4", Cluster: "east", Ports: http, Endpoints: []harness.Endpoint{harness.Ready("h-0", "10.4.0.1")}},
		{Name: "hl4-east-v6", Service: "hl4", Cluster: "east", AddressType: ipv6, Ports: http, Endpoints: []harness.Endpoint{harness.Ready("h-1", "fd00:4::1")}},
		{Name: "hl6-east", Service: "hl6", Cluster: "east", AddressType: ipv6, Ports: http, Endpoints: []harness.Endpoint{harness.Ready("h-0", "fd00:6::1")}},
		{Name: "down-east", Service: "down", Cluster: "east", Ports: http,
			Endpoints: []harness.Endpoint{harness.NotReady("d-0", "10.5.0.1"), harness.Terminating("d-1", "10.5.0.2")}},
	}
	for _, s := range slices {
		s.Namespace = ns
		mustSlice(t, c, s)
	}
}

// TestSpec checks every row of the spec (R1-R11 and section 3) with dig.
func TestSpec(t *testing.T) {
	s := need(t)
	dumpLogOnFailure(t, s.dns)
	ns := specNamespace
	loadSpecFixture(t, s.clients, ns)
	// A namespace without ServiceImports, and a local Service without one.
	mustNamespace(t, s.clients, ns+"-empty")
	local := mustLocalService(t, s.clients, ns, "localonly")

	// The last object loaded is visible: everything before it is too (one watch per kind,
	// in order), give or take the other kind's watch, which the rows below retry through.
	eventually(t, s.port, fq("", "down", ns), "A", want{rcode: "NXDOMAIN"}, 5*time.Second)
	eventually(t, s.port, fq("h-0.east", "hl6", ns), "AAAA", want{answer: []string{"AAAA fd00:6::1"}}, 5*time.Second)
	eventually(t, s.port, fq("", "db", ns), "A", want{answer: []string{"A 10.1.0.1", "A 10.1.0.2", "A 10.1.0.12",
		"A 10.2.0.1", "A 10.2.0.5", "A 10.3.0.1", "A 10.9.0.1"}}, 5*time.Second)

	web := fq("", "web", ns)
	db := fq("", "db", ns)
	srv := func(port, target string) string { return "SRV " + port + " " + target }
	nx := want{rcode: "NXDOMAIN"}
	nodata := want{}

	t.Run("R1 dns-version", func(t *testing.T) {
		expectRows(t, s.port, []row{
			{"dns-version." + Zone, "TXT", want{answer: []string{`TXT "1.0.0"`}}},
			{"dns-version." + Zone, "A", nodata},
		})
	})

	t.Run("R2 ClusterSetIP A/AAAA", func(t *testing.T) {
		expectRows(t, s.port, []row{
			{web, "A", want{answer: []string{"A 10.42.0.10"}}},
			{web, "AAAA", nodata},
			{fq("", "v6", ns), "AAAA", want{answer: []string{"AAAA fd00:42::10"}}},
			{fq("", "v6", ns), "A", nodata},
			{fq("", "dual", ns), "A", want{answer: []string{"A 10.42.0.20"}}},
			{fq("", "dual", ns), "AAAA", want{answer: []string{"AAAA fd00:42::20"}}},
			{fq("", "dual4", ns), "A", want{answer: []string{"A 10.42.0.30"}}},
			{fq("", "dual4", ns), "AAAA", nodata},
			{fq("", "nofam", ns), "A", want{answer: []string{"A 10.42.0.40"}}},
			{fq("", "nofam", ns), "AAAA", want{answer: []string{"AAAA fd00:42::40"}}},
			{fq("", "noips", ns), "A", nodata},
			{fq("", "noips", ns), "AAAA", nodata},
		})
	})

	t.Run("R3 ClusterSetIP named-port SRV", func(t *testing.T) {
		expectRows(t, s.port, []row{
			{fq("_http._tcp", "web", ns), "SRV", want{answer: []string{srv("80", web)}, extra: []string{web + " A 10.42.0.10"}}},
			{fq("_dns._udp", "web", ns), "SRV", want{answer: []string{srv("53", web)}}},
			{fq("_sig._sctp", "web", ns), "SRV", want{answer: []string{srv("9000", web)}}},
			{fq("_HTTP._TCP", "web", ns), "SRV", want{answer: []string{srv("80", web)}}},
			{fq("_http._udp", "web", ns), "SRV", nx},
			{fq("_dns._tcp", "web", ns), "SRV", nx},
			{fq("_nope._tcp", "web", ns), "SRV", nx},
			// No VIP: no SRV records whose target would have no address.
			{fq("_http._tcp", "noips", ns), "SRV", nx},
			{fq("", "noips", ns), "SRV", nodata},
			{fq("_http._tcp", "web", ns), "A", nodata},
		})
	})

	t.Run("R4 ClusterSetIP bare-name SRV", func(t *testing.T) {
		expectRows(t, s.port, []row{
			{web, "SRV", want{answer: []string{srv("80", web), srv("53", web), srv("8080", web), srv("9000", web)}}},
			{fq("", "dup", ns), "SRV", want{answer: []string{srv("42", fq("", "dup", ns))}}},
		})
	})

	t.Run("R5 headless A/AAAA", func(t *testing.T) {
		expectRows(t, s.port, []row{
			{db, "A", want{answer: []string{"A 10.1.0.1", "A 10.1.0.2", "A 10.1.0.12", "A 10.2.0.1", "A 10.2.0.5", "A 10.3.0.1", "A 10.9.0.1"}}},
			{db, "AAAA", want{answer: []string{"AAAA fd00:2::1", "AAAA fd00:3::"}}},
			{fq("", "hl4", ns), "A", want{answer: []string{"A 10.4.0.1"}}},
			{fq("", "hl4", ns), "AAAA", nodata},
			{fq("", "hl6", ns), "AAAA", want{answer: []string{"AAAA fd00:6::1"}}},
			{fq("", "hl6", ns), "A", nodata},
			{fq("", "down", ns), "A", nx},
			{fq("", "down", ns), "AAAA", nx},
			{fq("", "down", ns), "SRV", nx},
		})
	})

	t.Run("R6 per-endpoint names", func(t *testing.T) {
		expectRows(t, s.port, []row{
			{fq("db-0.east", "db", ns), "A", want{answer: []string{"A 10.1.0.1"}}},
			{fq("db-0.east", "db", ns), "AAAA", nodata},
			{fq("db-1.east", "db", ns), "A", want{answer: []string{"A 10.1.0.2", "A 10.1.0.12"}}},
			{fq("db-0.west.us", "db", ns), "A", want{answer: []string{"A 10.2.0.1"}}},
			{fq("db-0.west.us", "db", ns), "AAAA", want{answer: []string{"AAAA fd00:2::1"}}},
			{fq("db-4.west.us", "db", ns), "A", want{answer: []string{"A 10.2.0.5"}}},
			{fq("db-2.west.us", "db", ns), "A", nx}, // not ready
			{fq("db-3.west.us", "db", ns), "A", nx}, // terminating
			{fq("10-3-0-1.eu", "db", ns), "A", want{answer: []string{"A 10.3.0.1"}}},
			{fq("10-3-0-1.eu", "db", ns), "AAAA", nodata},
			{fq("fd00-3--0.eu", "db", ns), "AAAA", want{answer: []string{"AAAA fd00:3::"}}},
			{fq("db-0.eu", "db", ns), "A", nx},
			{fq("db-0.west", "db", ns), "A", nx},
			{fq("db-0.us", "db", ns), "A", nx},
			{fq("db-0.nowhere", "db", ns), "A", nx},
			{fq("db-9.east", "db", ns), "A", nx}, // the unlabelled slice has no per-endpoint names
			{fq("db-7.east", "db", ns), "A", nx}, // FQDN slice
			{fq("h-0.east", "hl4", ns), "A", want{answer: []string{"A 10.4.0.1"}}},
			{fq("h-1.east", "hl4", ns), "AAAA", nx}, // IPv6 not in ipFamilies
			{fq("d-0.east", "down", ns), "A", nx},
			{fq("web-0.east", "web", ns), "A", nx}, // ClusterSetIP endpoints are not published
		})
	})

	east, west, eu := fq("db-0.east", "db", ns), fq("db-0.west.us", "db", ns), fq("10-3-0-1.eu", "db", ns)
	dbSRV := []string{
		srv("5432", east), srv("5432", fq("db-1.east", "db", ns)),
		srv("15432", west), srv("15432", fq("db-4.west.us", "db", ns)),
		srv("5432", eu), srv("5432", fq("fd00-3--0.eu", "db", ns)),
	}
	t.Run("R7 headless named-port SRV", func(t *testing.T) {
		expectRows(t, s.port, []row{
			{fq("_pg._tcp", "db", ns), "SRV", want{answer: dbSRV, extra: []string{
				east + " A 10.1.0.1", west + " A 10.2.0.1", west + " AAAA fd00:2::1", eu + " A 10.3.0.1"}}},
			{fq("_PG._Tcp", "db", ns), "SRV", want{answer: dbSRV}},
			{fq("_pg._udp", "db", ns), "SRV", nx},
			{fq("_http._tcp", "hl4", ns), "SRV", want{answer: []string{srv("80", fq("h-0.east", "hl4", ns))}}},
		})
	})

	t.Run("R8 headless bare-name SRV", func(t *testing.T) {
		expectRows(t, s.port, []row{
			{db, "SRV", want{answer: dbSRV}},
		})
	})

	t.Run("R9 cluster id names have no records", func(t *testing.T) {
		var rows []row
		for _, name := range []string{fq("east", "db", ns), fq("west.us", "db", ns), fq("us", "db", ns), fq("eu", "db", ns)} {
			for _, qt := range []string{"A", "AAAA", "SRV", "TXT"} {
				rows = append(rows, row{name, qt, nodata}) // empty non-terminals (RFC 8020)
			}
		}
		rows = append(rows,
			row{fq("nowhere", "db", ns), "A", nx},
			row{fq("west", "db", ns), "A", nx},
			row{fq("east", "web", ns), "A", nx}, // no per-endpoint names below it
			row{fq("east", "down", ns), "A", nx},
			row{fq("_tcp", "db", ns), "SRV", nodata}, // empty non-terminal above _pg._tcp
		)
		expectRows(t, s.port, rows)
	})

	t.Run("R10 SOA and NS", func(t *testing.T) {
		r := expect(t, s.port, Zone, "SOA", want{answer: []string{"SOA ns.dns.clusterset.local. hostmaster.clusterset.local. 7200 1800 86400 5"}})
		if r != nil && len(r.Answer) == 1 && r.Answer[0].Header().Name != Zone {
			t.Errorf("SOA owner %s", r.Answer[0].Header().Name)
		}
		expectRows(t, s.port, []row{
			{Zone, "NS", want{answer: []string{"NS ns.dns.clusterset.local."}}},
			// The NS target answers the addresses CoreDNS is bound to (bind 127.0.0.1).
			{"ns.dns." + Zone, "A", want{answer: []string{"A 127.0.0.1"}}},
			{"ns.dns." + Zone, "AAAA", nodata},
			{"dns." + Zone, "A", nodata},
			{"ClusterSet.Local.", "SOA", want{answer: []string{"SOA ns.dns.clusterset.local. hostmaster.clusterset.local. 7200 1800 86400 5"}}},
		})
		// The serial moving on changes is TestUpdates' business.
	})

	t.Run("section 3 negative answers and other names", func(t *testing.T) {
		expectRows(t, s.port, []row{
			{Zone, "A", nodata},
			{Zone, "TXT", nodata},
			{"svc." + Zone, "A", nodata},
			{"svc." + Zone, "SRV", nodata},
			{ns + ".svc." + Zone, "A", nodata},
			{ns + "-empty.svc." + Zone, "A", nx},
			{"nope.svc." + Zone, "A", nx},
			{fq("", "nope", ns), "A", nx},
			{fq("", "nope", ns), "SRV", nx},
			{"pod." + Zone, "A", nx},
			{"10-1-0-1." + ns + ".pod." + Zone, "A", nx},
			{"*." + ns + ".svc." + Zone, "A", nx},
			{"web.*.svc." + Zone, "A", nx},
			{fq("*", "db", ns), "A", nx},
			{fq("x", "web", ns), "A", nx},
			{fq("x.y", "web", ns), "A", nx},
			{"something." + Zone, "A", nx},
			{"web." + ns + "." + Zone, "A", nx},
			// Other types: NODATA on names that exist, NXDOMAIN on names that do not.
			{web, "MX", nodata},
			{web, "CNAME", nodata},
			{web, "PTR", nodata},
			{web, "TXT", nodata},
			{db, "MX", nodata},
			{fq("db-0.east", "db", ns), "TXT", nodata},
			{fq("", "nope", ns), "MX", nx},
			{fq("", "nope", ns), "CNAME", nx},
			// Only ServiceImports make names.
			{fq("", "localonly", ns), "A", nx},
		})
	})

	t.Run("section 3 case: answers keep the query's spelling", func(t *testing.T) {
		up := strings.ToUpper
		expectRows(t, s.port, []row{
			{"WeB." + up(ns) + ".SvC.ClusterSet.LOCAL.", "A", want{answer: []string{"A 10.42.0.10"}}},
			{up(web), "A", want{answer: []string{"A 10.42.0.10"}}},
			{"DB-0.West.US.Db." + ns + ".svc.clusterset.local.", "AAAA", want{answer: []string{"AAAA fd00:2::1"}}},
			{"FD00-3--0.EU.db." + ns + ".svc.clusterset.local.", "AAAA", want{answer: []string{"AAAA fd00:3::"}}},
			{"_HTTP._TCP.WEB." + up(ns) + ".SVC.CLUSTERSET.LOCAL.", "SRV", want{answer: []string{srv("80", web)}}},
			{"DNS-VERSION.ClusterSet.Local.", "TXT", want{answer: []string{`TXT "1.0.0"`}}},
			{"NOPE." + up(ns) + ".SVC.CLUSTERSET.LOCAL.", "A", nx},
			{"West.US.DB." + up(ns) + ".SVC.CLUSTERSET.LOCAL.", "A", nodata},
		})
	})

	t.Run("section 3 cluster.local is untouched", func(t *testing.T) {
		cl := "localonly." + ns + ".svc.cluster.local."
		expectRows(t, s.port, []row{
			{cl, "A", want{answer: []string{"A " + local.Spec.ClusterIP}, ttl: 30, foreign: true}},
			// PTRs are the kubernetes plugin's: multicluster never overrides them.
			{reverse(local.Spec.ClusterIP), "PTR", want{answer: []string{"PTR " + cl}, ttl: 30, foreign: true}},
			// example.org from the file plugin in another server block.
			{"www.example.org.", "A", want{answer: []string{"A 192.0.2.80"}, ttl: 3600, foreign: true}},
		})
	})

	t.Run("section 3 fallthrough", func(t *testing.T) {
		// The fallthrough block: multicluster answers what exists and passes would-be
		// NXDOMAINs to the file plugin.
		expectRows(t, s.fallPort, []row{
			{web, "A", want{answer: []string{"A 10.42.0.10"}}},
			{fq("db-0.west.us", "db", ns), "A", want{answer: []string{"A 10.2.0.1"}}},
			{"missing.svc." + Zone, "TXT", want{answer: []string{`TXT "from the file plugin"`}, ttl: 30, foreign: true}},
			{fq("", "nope", ns), "A", want{rcode: "NXDOMAIN", foreign: true}},
		})
		r, err := harness.Query(s.fallPort, fq("", "nope", ns), "A")
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Authority) != 1 || !strings.Contains(r.Authority[0].String(), "ns.file.test.") {
			t.Errorf("a fallen-through NXDOMAIN should carry the file plugin's SOA:\n%s", r.Raw)
		}
	})

	t.Run("section 1 a slice without source-cluster is logged", func(t *testing.T) {
		if !strings.Contains(s.dns.Log(), "EndpointSlice "+ns+"/db-nolabel has no multicluster.kubernetes.io/source-cluster label") {
			t.Error("the slice without a source-cluster label was not logged")
		}
	})

	t.Run("section 3 TCP answers equal UDP answers", func(t *testing.T) {
		expectRows(t, s.port, []row{
			{db, "A", want{answer: []string{"A 10.1.0.1", "A 10.1.0.2", "A 10.1.0.12", "A 10.2.0.1", "A 10.2.0.5", "A 10.3.0.1", "A 10.9.0.1"}}},
			{fq("_pg._tcp", "db", ns), "SRV", want{answer: dbSRV}},
			{fq("", "nope", ns), "A", nx},
		}, "+tcp")
	})
}

// reverse is the in-addr.arpa name of an IPv4 address.
func reverse(ip string) string {
	p := strings.Split(ip, ".")
	return p[3] + "." + p[2] + "." + p[1] + "." + p[0] + ".in-addr.arpa."
}

// TestLongNames: a per-endpoint name longer than DNS allows (253 octets) is left out with
// a log line; the rest of the service answers and CoreDNS keeps running (spec section 2).
func TestLongNames(t *testing.T) {
	s := need(t)
	dumpLogOnFailure(t, s.dns)
	label := func(prefix string) string { return prefix + strings.Repeat("x", 63-len(prefix)) }
	ns, svc, host, cluster := label("long-ns-"), label("long-svc-"), label("host-"), label("cluster-")
	mustNamespace(t, s.clients, ns)
	mustImport(t, s.clients, harness.Import{Namespace: ns, Name: svc, Headless: true, Ports: []harness.Port{harness.TCP("http", 80)}}, false)
	mustSlice(t, s.clients, harness.Slice{Namespace: ns, Name: "long", Service: svc, Cluster: cluster, Ports: []harness.Port{harness.TCP("http", 80)},
		Endpoints: []harness.Endpoint{harness.Ready(host, "10.95.0.1")}})
	mustSlice(t, s.clients, harness.Slice{Namespace: ns, Name: "short", Service: svc, Cluster: "c", Ports: []harness.Port{harness.TCP("http", 80)},
		Endpoints: []harness.Endpoint{harness.Ready("x", "10.95.0.2")}})
	if n := len(host + "." + cluster + "." + fq("", svc, ns)); n <= 254 {
		t.Fatalf("the long name is only %d octets", n)
	}
	eventually(t, s.port, fq("x.c", svc, ns), "A", want{answer: []string{"A 10.95.0.2"}}, freshness)
	expectRows(t, s.port, []row{
		{fq("", svc, ns), "A", want{answer: []string{"A 10.95.0.1", "A 10.95.0.2"}}},
		{fq("_http._tcp", svc, ns), "SRV", want{answer: []string{"SRV 80 " + fq("x.c", svc, ns)}}},
		{fq(cluster, svc, ns), "A", want{rcode: "NXDOMAIN"}},
	})
	waitLog(t, s.dns, "name_too_long", freshness)
	if m := metrics(t, s.metricsPort); m[`coredns_multicluster_skipped_total{reason="name_too_long"}`] < 1 {
		t.Error(`coredns_multicluster_skipped_total{reason="name_too_long"} not counted`)
	}
	if s.dns.Exited() {
		t.Fatal("CoreDNS exited")
	}
}
