package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// prober asks the same questions over and over in the background and records every
// response that is not the expected one.
type prober struct {
	port int
	rows []row

	mu     sync.Mutex
	rounds int
	bad    []string

	stop chan struct{}
	done chan struct{}
}

func startProber(port int, rows []row) *prober {
	p := &prober{port: port, rows: rows, stop: make(chan struct{}), done: make(chan struct{})}
	qs := make([]harness.Question, len(rows))
	for i, r := range rows {
		qs[i] = harness.Question{Name: r.name, Type: r.qtype}
	}
	go func() {
		defer close(p.done)
		for {
			select {
			case <-p.stop:
				return
			default:
			}
			rs, err := harness.QueryBatch(port, qs)
			p.mu.Lock()
			p.rounds++
			if err != nil {
				p.bad = append(p.bad, err.Error())
			} else {
				for i, r := range rs {
					if errs := verify(r, dns.Fqdn(rows[i].name), rows[i].want); len(errs) > 0 {
						p.bad = append(p.bad, fmt.Sprintf("%s %s at %s: %s; dig printed:\n%s", rows[i].name, rows[i].qtype,
							time.Now().Format("15:04:05.000"), strings.Join(errs, "; "), r.Raw))
					}
				}
			}
			p.mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return p
}

// waitRounds waits until the prober has completed n more rounds.
func (p *prober) waitRounds(t *testing.T, n int) {
	t.Helper()
	p.mu.Lock()
	target := p.rounds + n
	p.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p.mu.Lock()
		r := p.rounds
		p.mu.Unlock()
		if r >= target {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("prober stuck at %d rounds", r)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// finish stops the prober and returns how many rounds it made and what went wrong.
func (p *prober) finish() (int, []string) {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rounds, p.bad
}

// waitLog waits until CoreDNS's log contains substr.
func waitLog(t *testing.T, c *harness.CoreDNS, substr string, timeout time.Duration) time.Duration {
	t.Helper()
	begin := time.Now()
	for !strings.Contains(c.Log(), substr) {
		if time.Since(begin) > timeout {
			t.Fatalf("CoreDNS did not log %q within %s", substr, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(begin)
}

// reconnectWait bounds how long a change made right after an outage may take to be
// served. The plugin retries a failed list or watch on client-go's reflector schedule
// (800 ms doubling to 30 s, each delay stretched by up to 2x jitter), so the first retry
// after the server is back can come close to a minute after the last failure: measured
// 38.8 s and 49.6 s on a loaded machine.
const reconnectWait = 2 * time.Minute

// TestOutage stops kube-apiserver, then etcd, while dig keeps asking: every answer
// during and after each outage must be the last known one (never SERVFAIL, NXDOMAIN or
// stale-wrong), and updates must resume once the control plane is back.
func TestOutage(t *testing.T) {
	// Runs alongside the other slow tests, which use clusters of their own, after the
	// tests that share the main cluster.
	t.Parallel()
	s := need(t)
	dumpLogOnFailure(t, s.dns)
	ctx := context.Background()
	c := s.clients
	ns := "outage"
	mustNamespace(t, c, ns)
	mustImport(t, c, harness.Import{Namespace: ns, Name: "stable", IPs: []string{"10.60.0.1"}, Families: v4only, Ports: []harness.Port{harness.TCP("http", 80)}}, false)
	mustImport(t, c, harness.Import{Namespace: ns, Name: "stateful", Headless: true, Families: v4only, Ports: []harness.Port{harness.TCP("http", 80)}}, false)
	mustSlice(t, c, harness.Slice{Namespace: ns, Name: "stateful-west", Service: "stateful", Cluster: "west.us", Ports: []harness.Port{harness.TCP("http", 80)},
		Endpoints: []harness.Endpoint{harness.Ready("s-0", "10.61.0.1"), harness.Ready("s-1", "10.61.0.2")}})
	rows := []row{
		{fq("", "stable", ns), "A", want{answer: []string{"A 10.60.0.1"}}},
		{fq("", "stateful", ns), "A", want{answer: []string{"A 10.61.0.1", "A 10.61.0.2"}}},
		{fq("s-0.west.us", "stateful", ns), "A", want{answer: []string{"A 10.61.0.1"}}},
		{fq("_http._tcp", "stateful", ns), "SRV", want{answer: []string{"SRV 80 " + fq("s-0.west.us", "stateful", ns), "SRV 80 " + fq("s-1.west.us", "stateful", ns)}}},
		{fq("", "missing", ns), "A", want{rcode: "NXDOMAIN"}},
		{"dns-version." + Zone, "TXT", want{answer: []string{`TXT "1.0.0"`}}},
	}
	eventually(t, s.port, rows[2].name, rows[2].qtype, rows[2].want, 5*time.Second)
	eventually(t, s.port, rows[0].name, rows[0].qtype, rows[0].want, 5*time.Second)

	p := startProber(s.port, rows)
	defer func() {
		if p != nil {
			p.finish()
		}
	}()
	p.waitRounds(t, 5)

	// kube-apiserver crashes (SIGKILL: connections die without a goodbye, the way a node
	// or process failure looks to clients) and stays down while dig keeps asking.
	killAPIServer(t, s)
	down := time.Now()
	p.waitRounds(t, 60)
	t.Logf("kube-apiserver down for %s", time.Since(down).Round(time.Millisecond))
	begin := time.Now()
	if err := s.cp.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("kube-apiserver started and ready in %s", time.Since(begin).Round(time.Millisecond))
	p.waitRounds(t, 5)
	mustImport(t, c, harness.Import{Namespace: ns, Name: "after-api", IPs: []string{"10.60.0.2"}, Families: v4only, Ports: []harness.Port{harness.TCP("http", 80)}}, false)
	took := eventually(t, s.port, fq("", "after-api", ns), "A", want{answer: []string{"A 10.60.0.2"}}, reconnectWait)
	t.Logf("after kube-apiserver restart: a new ServiceImport seen by dig after %s", took.Round(time.Millisecond))
	// The relist after the restart was streamed too: the new kube-apiserver has served
	// no LIST of either resource (every CoreDNS of this suite relisted by now).
	lists, streamed := listRequests(t, s)
	for _, res := range []string{"endpointslices", "serviceimports"} {
		if lists[res] != 0 || streamed[res] < 1 {
			t.Errorf("relist of %s after the restart: %v LIST requests, %v streamed lists; want 0 and at least 1", res, lists[res], streamed[res])
		}
	}

	// etcd down: kube-apiserver stays up but can read and write nothing.
	begin = time.Now()
	if err := s.cp.StopEtcd(); err != nil {
		t.Fatal(err)
	}
	down = time.Now()
	waitAPIServerUnhealthy(t, s)
	t.Logf("etcd stopped in %s, kube-apiserver unready %s later", down.Sub(begin).Round(time.Millisecond), time.Since(down).Round(time.Millisecond))
	p.waitRounds(t, 60)
	t.Logf("etcd down for %s", time.Since(down).Round(time.Millisecond))
	begin = time.Now()
	if err := s.cp.StartEtcd(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("etcd started, kube-apiserver ready again in %s", time.Since(begin).Round(time.Millisecond))
	p.waitRounds(t, 5)
	mustImport(t, c, harness.Import{Namespace: ns, Name: "after-etcd", IPs: []string{"10.60.0.3"}, Families: v4only, Ports: []harness.Port{harness.TCP("http", 80)}}, false)
	took = eventually(t, s.port, fq("", "after-etcd", ns), "A", want{answer: []string{"A 10.60.0.3"}}, reconnectWait)
	t.Logf("after etcd restart: a new ServiceImport seen by dig after %s", took.Round(time.Millisecond))
	rounds, bad := p.finish()
	p = nil
	t.Logf("%d rounds of %d queries before, during and after the outages", rounds, len(rows))
	if len(bad) > 0 {
		t.Errorf("%d wrong answers, first: %v", len(bad), bad[:min(len(bad), 10)])
	}

	// And changes to what was there before the outages show too.
	if err := c.DeleteSlice(ctx, ns, "stateful-west"); err != nil {
		t.Fatal(err)
	}
	eventually(t, s.port, fq("s-0.west.us", "stateful", ns), "A", want{rcode: "NXDOMAIN"}, freshness)
}

// waitAPIServerUnhealthy waits until kube-apiserver reports etcd unhealthy, so the outage
// is real from the API's side.
func waitAPIServerUnhealthy(t *testing.T, s *suite) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res := s.clients.Kube.Discovery().RESTClient().Get().AbsPath("/readyz").Do(context.Background())
		var code int
		res.StatusCode(&code)
		if code != 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("kube-apiserver still ready 30s after etcd stopped")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// killAPIServer kills the suite's kube-apiserver (a process this suite started) with
// SIGKILL and waits until it is gone. A graceful stop (StopAPIServer) also works, but
// kube-apiserver then lingers for the control plane's 15 s stop timeout.
func killAPIServer(t *testing.T, s *suite) {
	t.Helper()
	_, pid := s.cp.PIDs()
	if pid == 0 {
		t.Fatal("kube-apiserver not running")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("kube-apiserver (pid %d) still there 10s after SIGKILL", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
