package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// changeThroughRelays creates a name whose NXDOMAIN the relays hold and changes an
// address they hold, and checks each shows the change once the plugin's TTL has passed
// (the SOA minimum for the NXDOMAIN, the record's TTL for the address), never later.
func changeThroughRelays(t *testing.T, s *suite, sa int, ns string, relays []relay) {
	ctx := context.Background()
	later := fq("", "later", ns)
	for _, r := range relays {
		if resp, err := harness.Query(r.port, later, "A"); err != nil || resp.Status != "NXDOMAIN" {
			t.Fatalf("%s through %s before it exists: %v %v", later, r.name, resp, err)
		}
	}
	primed := time.Now()
	mustImport(t, s.clients, harness.Import{Namespace: ns, Name: "later", IPs: []string{"10.47.0.2"}, Families: v4only, Ports: []harness.Port{harness.TCP("http", 80)}}, false)
	eventually(t, sa, later, "A", want{answer: []string{"A 10.47.0.2"}}, 3*time.Second)
	direct := time.Since(primed)
	shown := waitRelays(t, relays, later, "A 10.47.0.2", primed, defaultTTL*time.Second+2*time.Second)
	for _, r := range relays {
		t.Logf("%s: new name visible %s after its NXDOMAIN was relayed (directly: %s; negative TTL %ds)",
			r.name, shown[r.name].Round(10*time.Millisecond), direct.Round(10*time.Millisecond), defaultTTL)
		switch {
		// A relay that keeps no NXDOMAIN shows the name as soon as the server has it.
		case !r.cachesNegative && shown[r.name] > direct+time.Second:
			t.Errorf("%s keeps no negative answers, yet showed %s only %s after it was created (directly: %s)", r.name, later, shown[r.name], direct)
		// One that does keeps it for the SOA's TTL (give or take its clock's second).
		case r.cachesNegative && shown[r.name] < defaultTTL*time.Second-1500*time.Millisecond:
			t.Errorf("%s showed %s %s after its NXDOMAIN was relayed: the negative TTL is %ds", r.name, later, shown[r.name], defaultTTL)
		}
	}

	web := fq("", "web", ns)
	for _, r := range relays {
		if resp, err := harness.Query(r.port, web, "A"); err != nil || strings.Join(harness.Datas(resp.Answer), " ") != "A 10.42.0.10" {
			t.Fatalf("%s through %s: %v %v", web, r.name, resp, err)
		}
	}
	primed = time.Now()
	if err := s.clients.UpdateImport(ctx, harness.Import{Namespace: ns, Name: "web", IPs: []string{"10.42.0.99"}, Families: v4only,
		Ports: []harness.Port{harness.TCP("http", 80), harness.UDP("dns", 53), {Port: 8080}, harness.SCTP("sig", 9000)}}, false); err != nil {
		t.Fatal(err)
	}
	eventually(t, sa, web, "A", want{answer: []string{"A 10.42.0.99"}}, 3*time.Second)
	direct = time.Since(primed)
	shown = waitRelays(t, relays, web, "A 10.42.0.99", primed, defaultTTL*time.Second+2*time.Second)
	for _, r := range relays {
		t.Logf("%s: new address visible %s after the old one was relayed (directly: %s; TTL %ds)",
			r.name, shown[r.name].Round(10*time.Millisecond), direct.Round(10*time.Millisecond), defaultTTL)
		// Every relay caches positive answers for the records' TTL.
		if shown[r.name] < defaultTTL*time.Second-2*time.Second {
			t.Errorf("%s showed the new address %s after the old one was relayed: the TTL is %ds", r.name, shown[r.name], defaultTTL)
		}
	}
}

// waitRelays asks name A through every relay every 100 ms until each answers answer and
// returns how long after primed each did; it fails for a relay still not answering it
// limit after primed.
func waitRelays(t *testing.T, relays []relay, name, answer string, primed time.Time, limit time.Duration) map[string]time.Duration {
	t.Helper()
	shown := map[string]time.Duration{}
	for len(shown) < len(relays) {
		for _, r := range relays {
			if _, ok := shown[r.name]; ok {
				continue
			}
			resp, err := harness.Query(r.port, name, "A")
			if err == nil && strings.Join(harness.Datas(resp.Answer), " ") == answer {
				shown[r.name] = time.Since(primed)
				continue
			}
			if time.Since(primed) > limit {
				t.Fatalf("%s A through %s: not %q %s after the relays were primed: %v %v", name, r.name, answer, limit, resp, err)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return shown
}

// outcome is what a relay answered a query, or that it did not answer in time.
func outcome(port int, name, qtype string) (string, time.Duration) {
	begin := time.Now()
	// Longer than any forwarder's own upstream timeout, so its verdict arrives.
	r, err := harness.Query(port, name, qtype, "+time=8")
	took := time.Since(begin)
	if err != nil {
		return "no answer", took
	}
	if r.Status == "NOERROR" && len(r.Answer) > 0 {
		return "NOERROR " + strings.Join(harness.Datas(r.Answer), " "), took
	}
	return r.Status, took
}

// standaloneDown stops the standalone server (SIGKILL: a crashed or unreachable
// server, not a rolling update, which the lameduck and the Service cover) and records
// what each relay answers: for a name it has cached, for one it has not, and for the
// cached one once its TTL has passed; then it starts the server again and waits until
// every relay answers again.
func standaloneDown(t *testing.T, server *harness.CoreDNS, corefile string, sa, ready int, ns string, relays []relay) {
	ctx := context.Background()
	cached, fresh := fq("", "dual", ns), fq("", "nofam", ns)
	for _, r := range relays {
		if o, _ := outcome(r.port, cached, "A"); o != "NOERROR A 10.42.0.20" {
			t.Fatalf("%s A through %s: %s", cached, r.name, o)
		}
	}
	primed := time.Now()
	if err := server.Kill(); err != nil {
		t.Fatal(err)
	}
	// Within the TTL the caches still answer what they hold: the right answer.
	for _, r := range relays {
		o, _ := outcome(r.port, cached, "A")
		t.Logf("%s, server down: the name it cached %s before: %s", r.name, time.Since(primed).Round(10*time.Millisecond), o)
		if o != "NOERROR A 10.42.0.20" && time.Since(primed) < 4*time.Second {
			t.Errorf("%s with the server down, within the TTL: %s, want the cached answer", r.name, o)
		}
	}
	// A name it holds nothing for, and the cached one once its TTL has passed.
	check := func(r relay, what, name string) {
		o, took := outcome(r.port, name, "A")
		t.Logf("%s, server down: %s: %s in %s", r.name, what, o, took.Round(10*time.Millisecond))
		if o != r.down {
			t.Errorf("%s with the server down, %s: %s, want %s (never a NXDOMAIN that caches would keep)", r.name, what, o, r.down)
		}
	}
	for _, r := range relays {
		check(r, "a name it never relayed", fresh)
	}
	time.Sleep(time.Until(primed.Add(defaultTTL*time.Second + time.Second)))
	for _, r := range relays {
		check(r, "the cached name after its TTL", cached)
	}

	// Back up on the same address: every relay answers again.
	restarted := startTestCoreDNS(t, sa, corefile)
	if err := waitReady(ctx, ready, 30*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, restarted.LogTail(20))
	}
	up := time.Now()
	shown := waitRelays(t, relays, fresh, "A 10.42.0.40", up, 15*time.Second)
	for _, r := range relays {
		t.Logf("%s: answers again %s after the server was ready", r.name, shown[r.name].Round(10*time.Millisecond))
	}
}
