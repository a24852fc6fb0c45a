package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/miekg/dns"

	"github.com/mcs-dns/multicluster/test/controlplane"
	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// TestPTR runs the kubernetes plugin and multicluster with reverse zones in one server
// block, in the documented order: kubernetes answers cluster.local PTRs first and
// falls through for the addresses it does not have.
func TestPTR(t *testing.T) {
	s := need(t)
	ctx := context.Background()
	c := s.clients
	ns := "ptr"
	mustNamespace(t, c, ns)
	ports, err := harness.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	// full: kubernetes answers every reverse zone. cidr: kubernetes answers the service
	// CIDR's reverse zone only, as the README advises for headless endpoint PTRs.
	full, p := ports[0], ports[1]
	corefile := fmt.Sprintf(`.:%[1]d {
    bind 127.0.0.1
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig %[3]s
        fallthrough in-addr.arpa ip6.arpa
    }
    multicluster clusterset.local in-addr.arpa ip6.arpa {
        kubeconfig %[3]s
    }
}
.:%[2]d {
    bind 127.0.0.1
    kubernetes cluster.local %[4]s {
        kubeconfig %[3]s
        fallthrough in-addr.arpa ip6.arpa
    }
    multicluster clusterset.local in-addr.arpa ip6.arpa {
        kubeconfig %[3]s
    }
}
`, full, p, s.kubeconfig, controlplane.ServiceClusterIPRange)
	startTestCoreDNS(t, full, corefile)

	// A local Service, and a ServiceImport that (wrongly) claims its ClusterIP.
	local := mustLocalService(t, c, ns, "local")
	vip := local.Spec.ClusterIP
	if vip == "" {
		t.Fatal("the local Service got no ClusterIP")
	}
	pg := []harness.Port{harness.TCP("pg", 5432)}
	web := harness.Import{Namespace: ns, Name: "web", IPs: []string{"10.62.0.1"}, Ports: []harness.Port{harness.TCP("http", 80)}}
	mustImport(t, c, web, false)
	mustImport(t, c, harness.Import{Namespace: ns, Name: "clash", IPs: []string{vip}, Ports: []harness.Port{harness.TCP("http", 80)}}, false)
	mustImport(t, c, harness.Import{Namespace: ns, Name: "db", Headless: true, Ports: pg}, false)
	mustSlice(t, c, harness.Slice{Namespace: ns, Name: "db-east", Service: "db", Cluster: "east", Ports: pg,
		Endpoints: []harness.Endpoint{harness.Ready("db-0", "10.62.1.1"), harness.Ready("x", "10.62.1.9"), harness.NotReady("db-2", "10.62.1.3")}})
	mustSlice(t, c, harness.Slice{Namespace: ns, Name: "db-west", Service: "db", Cluster: "west", Ports: pg,
		Endpoints: []harness.Endpoint{harness.Ready("db-0", "10.62.1.2"), harness.Ready("y", "10.62.1.9"), harness.Ready("", "10.62.1.4")}})
	mustSlice(t, c, harness.Slice{Namespace: ns, Name: "db-east-v6", Service: "db", Cluster: "east", AddressType: "IPv6", Ports: pg,
		Endpoints: []harness.Endpoint{harness.Ready("db-1", "fd00:62::1")}})

	rev := func(addr string) string {
		r, err := dns.ReverseAddr(addr)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	ptr := func(names ...string) want {
		w := want{}
		for _, n := range names {
			w.answer = append(w.answer, "PTR "+n)
		}
		return w
	}
	eventually(t, p, rev("10.62.0.1"), "PTR", ptr(fq("", "web", ns)), freshness)
	// With kubernetes on every reverse zone, VIPs and unknown addresses reach this
	// plugin and the local Service's PTR wins. (Imported EndpointSlices' addresses do
	// not: the kubernetes plugin indexes every EndpointSlice and claims them; see the
	// README.)
	for _, r := range []row{
		{rev("10.62.0.1"), "PTR", ptr(fq("", "web", ns))},
		{rev(vip), "PTR", want{answer: []string{"PTR local." + ns + ".svc.cluster.local."}, foreign: true}},
		{rev("10.62.9.9"), "PTR", want{rcode: "NXDOMAIN"}},
	} {
		expect(t, full, r.name, r.qtype, r.want)
	}
	for _, r := range []row{
		// The local Service's PTR wins over the import that claims its address.
		{rev(vip), "PTR", want{answer: []string{"PTR local." + ns + ".svc.cluster.local."}, foreign: true}},
		// Per-endpoint names, with the cluster id; IPv6 too.
		{rev("10.62.1.1"), "PTR", ptr(fq("db-0.east", "db", ns))},
		{rev("10.62.1.2"), "PTR", ptr(fq("db-0.west", "db", ns))},
		{rev("10.62.1.4"), "PTR", ptr(fq("10-62-1-4.west", "db", ns))},
		{rev("fd00:62::1"), "PTR", ptr(fq("db-1.east", "db", ns))},
		// An address two names share answers both.
		{rev("10.62.1.9"), "PTR", ptr(fq("x.east", "db", ns), fq("y.west", "db", ns))},
		// Not ready, unknown: no name.
		{rev("10.62.1.3"), "PTR", want{rcode: "NXDOMAIN"}},
		{rev("10.62.9.9"), "PTR", want{rcode: "NXDOMAIN"}},
	} {
		expect(t, p, r.name, r.qtype, r.want)
	}

	// Built on update: a new VIP answers, the old one no longer does.
	web.IPs = []string{"10.62.0.2"}
	if err := c.UpdateImport(ctx, web, false); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, p, rev("10.62.0.2"), "PTR", ptr(fq("", "web", ns)), freshness)
	t.Logf("changed VIP's PTR seen after %s", took)
	expect(t, p, rev("10.62.0.1"), "PTR", want{rcode: "NXDOMAIN"})
}
