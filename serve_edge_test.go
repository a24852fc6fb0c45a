package multicluster

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/mcs-dns/multicluster/internal/object"
	"github.com/mcs-dns/multicluster/internal/zone"

	"github.com/miekg/dns"
)

func TestOtherZonesGoToNextPlugin(t *testing.T) {
	m := syncedPlugin()
	m.Next = test.NextHandler(dns.RcodeRefused, nil)
	for _, name := range []string{"web.shop.svc.cluster.local.", "example.org.", "local."} {
		if rcode, _ := query(t, m, name, dns.TypeA); rcode != dns.RcodeRefused {
			t.Errorf("%s: rcode %s, want the next plugin's REFUSED", name, dns.RcodeToString[rcode])
		}
	}
}

func TestUnsyncedAnswersServfailInsteadOfNXDOMAIN(t *testing.T) {
	m := syncedPlugin()
	load(t, m, clusterSet()...)
	m.ctrl.state.Store(int32(stateSyncing))
	if rcode, _ := query(t, m, "nope.shop.svc.clusterset.local.", dns.TypeA); rcode != dns.RcodeServerFailure {
		t.Errorf("missing name while syncing: %s, want SERVFAIL", dns.RcodeToString[rcode])
	}
	// What is known is still served.
	if rcode, rrs := query(t, m, "web.shop.svc.clusterset.local.", dns.TypeA); rcode != dns.RcodeSuccess || len(rrs) != 1 {
		t.Errorf("known name while syncing: %s with %d records", dns.RcodeToString[rcode], len(rrs))
	}
}

func TestFallthroughZones(t *testing.T) {
	m := syncedPlugin()
	load(t, m, clusterSet()...)
	m.Next = test.NextHandler(dns.RcodeRefused, nil)
	m.Fall.SetZonesFromArgs([]string{"other.svc.clusterset.local."})
	if rcode, _ := query(t, m, "x.other.svc.clusterset.local.", dns.TypeA); rcode != dns.RcodeRefused {
		t.Errorf("fallthrough zone: %s, want the next plugin", dns.RcodeToString[rcode])
	}
	if rcode, _ := query(t, m, "x.shop.svc.clusterset.local.", dns.TypeA); rcode != dns.RcodeNameError {
		t.Errorf("outside the fallthrough zones: %s, want NXDOMAIN", dns.RcodeToString[rcode])
	}
	// Existing names never fall through.
	if rcode, _ := query(t, m, "web.shop.svc.clusterset.local.", dns.TypeA); rcode != dns.RcodeSuccess {
		t.Errorf("existing name: %s", dns.RcodeToString[rcode])
	}
}

func TestTransferQueryTypesAreRefusedInServeDNS(t *testing.T) {
	m := syncedPlugin()
	if rcode, _ := query(t, m, "clusterset.local.", dns.TypeAXFR); rcode != dns.RcodeRefused {
		t.Errorf("AXFR without the transfer plugin: %s, want REFUSED", dns.RcodeToString[rcode])
	}
}

// TestAnswersAreCopies: a plugin further up the chain that rewrites an answer in place
// must not change what later queries get.
func TestAnswersAreCopies(t *testing.T) {
	m := syncedPlugin()
	load(t, m, clusterSet()...)
	_, rrs := query(t, m, "db.shop.svc.clusterset.local.", dns.TypeA)
	for _, rr := range rrs {
		rr.Header().Name = "evil."
		rr.(*dns.A).A = append(rr.(*dns.A).A[:0:0], 1, 2, 3, 4)
	}
	_, rrs = query(t, m, "db.shop.svc.clusterset.local.", dns.TypeA)
	for _, rr := range rrs {
		if rr.Header().Name != "db.shop.svc.clusterset.local." || rr.(*dns.A).A.String() == "1.2.3.4" {
			t.Fatalf("stored records changed through an answer: %s", rr)
		}
	}
}

func TestMultipleZones(t *testing.T) {
	m := syncedPlugin("clusterset.local.", "mcs.example.")
	load(t, m, clusterSet()...)
	rcode, rrs := query(t, m, "_pg._tcp.db.shop.svc.mcs.example.", dns.TypeSRV)
	if rcode != dns.RcodeSuccess || len(rrs) != 4 {
		t.Fatalf("second zone: %s with %d records", dns.RcodeToString[rcode], len(rrs))
	}
	for _, rr := range rrs {
		if !strings.HasSuffix(rr.(*dns.SRV).Target, ".db.shop.svc.mcs.example.") {
			t.Errorf("SRV target %s is not in the queried zone", rr.(*dns.SRV).Target)
		}
	}
}

func TestOverlongNamesAreSkipped(t *testing.T) {
	m := syncedPlugin()
	longCluster := strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + "." + strings.Repeat("e", 63)
	host := strings.Repeat("h", 63)
	load(t, m,
		headlessImport("shop", "long", nil),
		slice("shop", "long-1", "long", longCluster, ipv4, nil, ready(host, "10.7.0.1")),
		slice("shop", "long-2", "long", "east", ipv4, nil, ready("ok", "10.7.0.2")),
	)
	if rcode, rrs := query(t, m, "long.shop.svc.clusterset.local.", dns.TypeA); rcode != dns.RcodeSuccess || len(rrs) != 2 {
		t.Errorf("service name: %s with %d records, want both addresses", dns.RcodeToString[rcode], len(rrs))
	}
	if rcode, rrs := query(t, m, "ok.east.long.shop.svc.clusterset.local.", dns.TypeA); rcode != dns.RcodeSuccess || len(rrs) != 1 {
		t.Errorf("short name: %s with %d records", dns.RcodeToString[rcode], len(rrs))
	}
	// The SRV set only names targets that exist.
	_, rrs := query(t, m, "long.shop.svc.clusterset.local.", dns.TypeSRV)
	for _, rr := range rrs {
		if !object.FitsDNS(rr.(*dns.SRV).Target) {
			t.Errorf("SRV target %s does not fit DNS", rr.(*dns.SRV).Target)
		}
	}
}

func TestLargeHeadlessAnswer(t *testing.T) {
	m := syncedPlugin()
	eps := make([]ep, 500)
	for i := range eps {
		eps[i] = ready("", fmt.Sprintf("10.8.%d.%d", i/250, i%250+1))
	}
	load(t, m, headlessImport("shop", "big", nil), slice("shop", "big-1", "big", "east", ipv4, tcp5432, eps...))
	w := dnstest.NewRecorder(&test.ResponseWriter{})
	m.ServeDNS(context.TODO(), w, test.Case{Qname: "big.shop.svc.clusterset.local.", Qtype: dns.TypeA}.Msg())
	if len(w.Msg.Answer) != 500 {
		t.Fatalf("%d records, want 500", len(w.Msg.Answer))
	}
}

// TestOtherClassesGoToNextPlugin: CHAOS (and any class but IN) questions are not this
// plugin's, even under its zone.
func TestOtherClassesGoToNextPlugin(t *testing.T) {
	m := syncedPlugin()
	load(t, m, clusterSet()...)
	m.Next = test.NextHandler(dns.RcodeRefused, nil)
	for _, class := range []uint16{dns.ClassCHAOS, dns.ClassHESIOD, dns.ClassANY} {
		r := new(dns.Msg)
		r.SetQuestion("web.shop.svc.clusterset.local.", dns.TypeA)
		r.Question[0].Qclass = class
		w := dnstest.NewRecorder(&test.ResponseWriter{})
		rcode, _ := m.ServeDNS(context.TODO(), w, r)
		if rcode != dns.RcodeRefused || w.Msg != nil {
			t.Errorf("class %s: rcode %s, answer %v; want the next plugin's", dns.ClassToString[class], dns.RcodeToString[rcode], w.Msg)
		}
	}
}

// TestEscapedDotsAreNotLabelBoundaries: "x\.clusterset.local." is the label
// "x.clusterset" under "local.", not a name in this zone; and an escaped dot inside the
// zone is part of a label that cannot exist here.
func TestEscapedDotsAreNotLabelBoundaries(t *testing.T) {
	m := syncedPlugin()
	load(t, m, clusterSet()...)
	m.Next = test.NextHandler(dns.RcodeRefused, nil)
	if rcode, _ := query(t, m, `x\.clusterset.local.`, dns.TypeA); rcode != dns.RcodeRefused {
		t.Errorf(`x\.clusterset.local.: %s, want the next plugin`, dns.RcodeToString[rcode])
	}
	if rcode, _ := query(t, m, `x\\.clusterset.local.`, dns.TypeA); rcode != dns.RcodeNameError {
		t.Errorf(`x\\.clusterset.local. (escaped backslash, real dot): %s, want NXDOMAIN`, dns.RcodeToString[rcode])
	}
	for _, name := range []string{`web\.shop.svc.clusterset.local.`, `db-0\.east.db.shop.svc.clusterset.local.`, `web.shop\.svc.clusterset.local.`} {
		if rcode, rrs := query(t, m, name, dns.TypeA); rcode != dns.RcodeNameError || len(rrs) != 0 {
			t.Errorf("%s: %s with %d records, want NXDOMAIN", name, dns.RcodeToString[rcode], len(rrs))
		}
	}
}

// TestANYDoesNotRepeatTheVIP: ANY at a ClusterSetIP name has the VIP in the answer; the
// SRV records' target is the same name, so the additional section stays empty.
func TestANYDoesNotRepeatTheVIP(t *testing.T) {
	m := syncedPlugin()
	load(t, m, clusterSet()...)
	w := dnstest.NewRecorder(&test.ResponseWriter{})
	if _, err := m.ServeDNS(context.TODO(), w, test.Case{Qname: "web.shop.svc.clusterset.local.", Qtype: dns.TypeANY}.Msg()); err != nil {
		t.Fatal(err)
	}
	if len(w.Msg.Extra) != 0 {
		t.Errorf("ANY repeats answer data in Additional: %v", w.Msg.Extra)
	}
	// A headless name's SRV targets are other names: their addresses stay.
	w = dnstest.NewRecorder(&test.ResponseWriter{})
	if _, err := m.ServeDNS(context.TODO(), w, test.Case{Qname: "db.shop.svc.clusterset.local.", Qtype: dns.TypeANY}.Msg()); err != nil {
		t.Fatal(err)
	}
	if len(w.Msg.Extra) == 0 {
		t.Error("ANY at a headless name lost the SRV targets' addresses")
	}
}

// failingWriter fails every write, as a reply that cannot be packed does.
type failingWriter struct{ test.ResponseWriter }

func (failingWriter) WriteMsg(*dns.Msg) error { return fmt.Errorf("dns: bad rdata") }

// TestWriteErrorsAreReported: a reply that cannot be written is reported to the server
// (which answers SERVFAIL and logs it), never dropped so the client times out.
func TestWriteErrorsAreReported(t *testing.T) {
	m := syncedPlugin()
	load(t, m, clusterSet()...)
	rcode, err := m.ServeDNS(context.TODO(), &failingWriter{}, test.Case{Qname: "web.shop.svc.clusterset.local.", Qtype: dns.TypeA}.Msg())
	if err == nil || rcode != dns.RcodeServerFailure || !strings.Contains(err.Error(), "multicluster") {
		t.Errorf("rcode %s, error %v; want SERVFAIL and an error naming the plugin", dns.RcodeToString[rcode], err)
	}
}

// TestNameWithMoreThan65535Addresses: one per-endpoint name shared by more addresses
// than a 16-bit count holds keeps the first 65,535 (logged once), instead of wrapping
// around and pointing into another name's addresses.
func TestNameWithMoreThan65535Addresses(t *testing.T) {
	m := syncedPlugin()
	eps := make([]ep, 0, 70000)
	for i := range 70000 {
		eps = append(eps, ready("same", fmt.Sprintf("10.%d.%d.%d", 100+i>>16, i>>8&255, i&255)))
	}
	var logged []string
	si, _ := object.TransformImport(headlessImport("shop", "big", nil))
	sl, _ := object.TransformSlice(slice("shop", "big-1", "big", "east", ipv4, nil, eps...))
	r := zone.Build(si.(*object.ServiceImport), []*object.EndpointSlice{sl.(*object.EndpointSlice)}, m.longestZone(), func(reason, detail string) {
		logged = append(logged, reason+" "+detail)
	})
	n, ok := r.LookupName("same", "east")
	if !ok {
		t.Fatal("the shared name is missing")
	}
	v4, _ := r.NameAddrs(n)
	if len(v4)/4 != zone.MaxNameAddrs {
		t.Errorf("name holds %d addresses, want %d", len(v4)/4, zone.MaxNameAddrs)
	}
	if len(logged) != 1 || !strings.HasPrefix(logged[0], object.ReasonTooMany) {
		t.Errorf("logged %v, want one %s", logged, object.ReasonTooMany)
	}
	if r.Endpoints != 70000 {
		t.Errorf("service name serves %d addresses, want all 70000", r.Endpoints)
	}
}
