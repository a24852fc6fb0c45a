package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// freshness is how soon dig must see a change made through the API.
const freshness = 2 * time.Second

// step makes a change through the API, then polls dig until the answer shows it (at
// most freshness), and checks that the SOA serial moved.
func step(t *testing.T, port int, what string, change func() error, name, qtype string, w want) {
	t.Helper()
	before := serial(t, port)
	if err := change(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	took := eventually(t, port, name, qtype, w, freshness)
	// The serial is the second of the change and never ahead of the clock: a change in
	// the second the serial already names shows in the serial the next second.
	after := serial(t, port)
	for deadline := time.Now().Add(1500 * time.Millisecond); int32(after-before) <= 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		after = serial(t, port)
	}
	if int32(after-before) <= 0 {
		t.Errorf("%s: SOA serial %d -> %d, want it to move", what, before, after)
	}
	t.Logf("%-55s seen by dig after %4dms (serial %d -> %d)", what, took.Milliseconds(), before, after)
}

// TestUpdates creates, changes and deletes ServiceImports and EndpointSlices, and checks
// that each change shows within 2 s and moves the SOA serial.
func TestUpdates(t *testing.T) {
	s := need(t)
	dumpLogOnFailure(t, s.dns)
	ctx := context.Background()
	c := s.clients
	ns := "updates"
	mustNamespace(t, c, ns)
	api := harness.Import{Namespace: ns, Name: "api", IPs: []string{"10.50.0.1"}, Families: v4only, Ports: []harness.Port{harness.TCP("http", 80)}}
	workers := harness.Import{Namespace: ns, Name: "workers", Headless: true, Families: dual, Ports: []harness.Port{harness.TCP("http", 80)}}
	slice := harness.Slice{Namespace: ns, Name: "workers-east", Service: "workers", Cluster: "east", Ports: []harness.Port{harness.TCP("http", 80)},
		Endpoints: []harness.Endpoint{harness.Ready("w-0", "10.51.0.1")}}
	p := s.port

	expect(t, p, fq("", "api", ns), "A", want{rcode: "NXDOMAIN"})
	expect(t, p, ns+".svc."+Zone, "A", want{rcode: "NXDOMAIN"})

	step(t, p, "create ClusterSetIP ServiceImport", func() error { return c.CreateImport(ctx, api, false) },
		fq("", "api", ns), "A", want{answer: []string{"A 10.50.0.1"}})
	expect(t, p, ns+".svc."+Zone, "A", want{})

	api.IPs = []string{"10.50.0.2"}
	step(t, p, "change its VIP", func() error { return c.UpdateImport(ctx, api, false) },
		fq("", "api", ns), "A", want{answer: []string{"A 10.50.0.2"}})

	api.IPs, api.Families = []string{"10.50.0.2", "fd00:50::2"}, dual
	step(t, p, "make it dual-stack", func() error { return c.UpdateImport(ctx, api, false) },
		fq("", "api", ns), "AAAA", want{answer: []string{"AAAA fd00:50::2"}})

	api.Families = v6only
	step(t, p, "limit ipFamilies to IPv6", func() error { return c.UpdateImport(ctx, api, false) },
		fq("", "api", ns), "A", want{})

	api.Ports = []harness.Port{harness.TCP("http", 8080), harness.TCP("admin", 9090)}
	step(t, p, "change its ports", func() error { return c.UpdateImport(ctx, api, false) },
		fq("", "api", ns), "SRV", want{answer: []string{"SRV 8080 " + fq("", "api", ns), "SRV 9090 " + fq("", "api", ns)}})
	expect(t, p, fq("_admin._tcp", "api", ns), "SRV", want{answer: []string{"SRV 9090 " + fq("", "api", ns)}})

	// A headless ServiceImport without ready endpoints has no names (R5): no answer
	// changes until its first slice arrives.
	mustImport(t, c, workers, false)
	expect(t, p, fq("", "workers", ns), "A", want{rcode: "NXDOMAIN"})

	step(t, p, "create an EndpointSlice", func() error { return c.CreateSlice(ctx, slice) },
		fq("w-0.east", "workers", ns), "A", want{answer: []string{"A 10.51.0.1"}})

	slice.Endpoints = append(slice.Endpoints, harness.Ready("w-1", "10.51.0.2"))
	step(t, p, "add an endpoint", func() error { return c.UpdateSlice(ctx, slice) },
		fq("", "workers", ns), "A", want{answer: []string{"A 10.51.0.1", "A 10.51.0.2"}})

	slice.Endpoints[0] = harness.NotReady("w-0", "10.51.0.1")
	step(t, p, "mark an endpoint not ready", func() error { return c.UpdateSlice(ctx, slice) },
		fq("w-0.east", "workers", ns), "A", want{rcode: "NXDOMAIN"})
	expect(t, p, fq("", "workers", ns), "A", want{answer: []string{"A 10.51.0.2"}})

	slice.Cluster = "west.us"
	step(t, p, "move the slice to cluster west.us (label change)", func() error { return c.UpdateSlice(ctx, slice) },
		fq("w-1.west.us", "workers", ns), "A", want{answer: []string{"A 10.51.0.2"}})
	expect(t, p, fq("w-1.east", "workers", ns), "A", want{rcode: "NXDOMAIN"})
	expect(t, p, fq("east", "workers", ns), "A", want{rcode: "NXDOMAIN"})

	v6 := harness.Slice{Namespace: ns, Name: "workers-eu-v6", Service: "workers", Cluster: "eu", AddressType: ipv6,
		Ports: []harness.Port{harness.TCP("http", 80)}, Endpoints: []harness.Endpoint{harness.Ready("w-2", "fd00:51::2")}}
	step(t, p, "add an IPv6 slice from cluster eu", func() error { return c.CreateSlice(ctx, v6) },
		fq("", "workers", ns), "AAAA", want{answer: []string{"AAAA fd00:51::2"}})

	workers.Families = v4only
	step(t, p, "limit the headless ipFamilies to IPv4", func() error { return c.UpdateImport(ctx, workers, false) },
		fq("w-2.eu", "workers", ns), "AAAA", want{rcode: "NXDOMAIN"})

	step(t, p, "delete the IPv4 EndpointSlice", func() error { return c.DeleteSlice(ctx, ns, slice.Name) },
		fq("", "workers", ns), "A", want{rcode: "NXDOMAIN"})

	step(t, p, "delete the ClusterSetIP ServiceImport", func() error { return c.DeleteImport(ctx, ns, "api") },
		fq("", "api", ns), "A", want{rcode: "NXDOMAIN"})
	expect(t, p, ns+".svc."+Zone, "A", want{})

	step(t, p, "delete the last ServiceImport of the namespace", func() error { return c.DeleteImport(ctx, ns, "workers") },
		ns+".svc."+Zone, "A", want{rcode: "NXDOMAIN"})
}
