package multicluster

import (
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin/transfer"

	"github.com/miekg/dns"
)

// parseTransfer runs the transfer plugin's own setup on a Corefile stanza and returns
// the plugin it builds.
func parseTransfer(t *testing.T, stanza string) *transfer.Transfer {
	t.Helper()
	setupFn, err := caddy.DirectiveAction("dns", "transfer")
	if err != nil {
		t.Fatal(err)
	}
	c := caddy.NewTestController("dns", stanza)
	c.ServerBlockKeys = []string{"clusterset.local."}
	if err := setupFn(c); err != nil {
		t.Fatalf("transfer setup: %v", err)
	}
	plugins := dnsserver.GetConfig(c).Plugin
	if len(plugins) != 1 {
		t.Fatalf("transfer setup added %d plugins", len(plugins))
	}
	tr, ok := plugins[0](nil).(*transfer.Transfer)
	if !ok {
		t.Fatalf("transfer setup built a %T", plugins[0](nil))
	}
	return tr
}

// TestTransferStanzas: the stanzas are read as the transfer plugin parsed them. This
// pins the transfer plugin's layout: a CoreDNS that changes it fails here.
func TestTransferStanzas(t *testing.T) {
	tr := parseTransfer(t, `transfer {
    to 127.0.0.1:5378 10.0.0.53 *
}
transfer 42.10.in-addr.arpa {
    to [::1]:5379
    source 127.0.0.78
}`)
	got, err := transferStanzas(tr)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 ||
		!slices.Equal(got[0].zones, []string{"clusterset.local."}) || !slices.Equal(got[0].to, []string{"127.0.0.1:5378", "10.0.0.53:53", "*"}) || got[0].source != nil ||
		!slices.Equal(got[1].zones, []string{"42.10.in-addr.arpa."}) || !slices.Equal(got[1].to, []string{"[::1]:5379"}) || !got[1].source.Equal(net.ParseIP("127.0.0.78")) {
		t.Fatalf("stanzas %+v", got)
	}
	for zone, want := range map[string]int{"clusterset.local.": 0, "x.clusterset.local.": 0, "1.0.42.10.in-addr.arpa.": 1, "example.org.": -1} {
		st := stanzaFor(got, zone)
		if (want < 0) != (st == nil) || (st != nil && st != &got[want]) {
			t.Errorf("stanza for %s: %+v, want #%d", zone, st, want)
		}
	}
	if st, err := transferStanzas(nil); st != nil || err != nil {
		t.Errorf("no transfer plugin: %v, %v", st, err)
	}
}

// secondaryStub answers NOTIFY on 127.0.0.1 with rcode and records where each came from.
type secondaryStub struct {
	mu      sync.Mutex
	sources []string
	zones   []string
}

func startSecondaryStub(t *testing.T, rcode int) (*secondaryStub, string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &secondaryStub{}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		host, _, _ := net.SplitHostPort(w.RemoteAddr().String())
		s.mu.Lock()
		s.sources = append(s.sources, host)
		s.zones = append(s.zones, r.Question[0].Name)
		s.mu.Unlock()
		m := new(dns.Msg)
		m.SetRcode(r, rcode)
		w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return s, pc.LocalAddr().String()
}

func (s *secondaryStub) seen() ([]string, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sources), slices.Clone(s.zones)
}

// TestNotifySource: NOTIFY leaves from the address the server block is bound to (the
// secondary knows its primary by it and refuses NOTIFY from any other), or from the
// transfer stanza's source; without either the kernel picks. Only the hosts of the
// stanza that covers the zone are notified; "to *" notifies no one.
func TestNotifySource(t *testing.T) {
	sec, addr := startSecondaryStub(t, dns.RcodeSuccess)
	cases := []struct {
		name   string
		stanza string
		listen []string
		zone   string
		want   []string // the sources seen
	}{
		{"bound address", "transfer {\n to " + addr + "\n}", []string{"127.0.0.77"}, "clusterset.local.", []string{"127.0.0.77"}},
		{"bound to several", "transfer {\n to " + addr + "\n}", []string{"::1", "127.0.0.79", "127.0.0.80"}, "clusterset.local.", []string{"127.0.0.79"}},
		{"stanza source first", "transfer {\n to " + addr + "\n source 127.0.0.78\n}", []string{"127.0.0.77"}, "clusterset.local.", []string{"127.0.0.78"}},
		{"wildcard listener: the kernel's choice", "transfer {\n to " + addr + "\n}", []string{""}, "clusterset.local.", []string{"127.0.0.1"}},
		{"not bound to the target's family", "transfer {\n to " + addr + "\n}", []string{"::1"}, "clusterset.local.", []string{"127.0.0.1"}},
		{"to * only", "transfer {\n to *\n}", []string{"127.0.0.77"}, "clusterset.local.", nil},
		{"a zone no stanza covers", "transfer {\n to " + addr + "\n}", []string{"127.0.0.77"}, "example.org.", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stanzas, err := transferStanzas(parseTransfer(t, c.stanza))
			if err != nil {
				t.Fatal(err)
			}
			before, _ := sec.seen()
			res := newNotifySender(stanzas, c.listen).send(c.zone)
			if res.acked != len(c.want) || len(res.failed) != 0 {
				t.Errorf("acked %d, failed %v; want %d acknowledged", res.acked, res.failed, len(c.want))
			}
			sources, zones := sec.seen()
			if got := sources[len(before):]; !slices.Equal(got, c.want) {
				t.Errorf("NOTIFY sent from %v, want %v", got, c.want)
			}
			for _, z := range zones[len(before):] {
				if z != c.zone {
					t.Errorf("NOTIFY for %s, want %s", z, c.zone)
				}
			}
		})
	}

	// A secondary that refuses: three tries, one failure naming it and the source.
	refusing, raddr := startSecondaryStub(t, dns.RcodeRefused)
	stanzas, err := transferStanzas(parseTransfer(t, "transfer {\n to "+raddr+"\n}"))
	if err != nil {
		t.Fatal(err)
	}
	s := newNotifySender(stanzas, []string{"127.0.0.77"})
	s.timeout = time.Second
	res := s.send("clusterset.local.")
	if sources, _ := refusing.seen(); res.acked != 0 || len(res.failed) != 1 || len(sources) != 3 {
		t.Errorf("refused: acked %d, failed %v after %d tries; want one failure after 3", res.acked, res.failed, len(sources))
	}
}
