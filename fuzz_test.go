package multicluster

import (
	"context"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
)

// FuzzServeDNS feeds arbitrary query names and types to ServeDNS over the test
// ClusterSet: it must never panic, and every answer must be a well-formed reply.
// `go test` runs the seed corpus; `make fuzz` explores further.
func FuzzServeDNS(f *testing.F) {
	for _, tc := range dnsTestCases {
		f.Add(tc.Qname, tc.Qtype)
	}
	for _, seed := range []string{
		".", "clusterset.local.", "svc.clusterset.local.", "..svc.clusterset.local.",
		".shop.svc.clusterset.local.", "a..b.shop.svc.clusterset.local.",
		"_._.db.shop.svc.clusterset.local.", "\\.\\..svc.clusterset.local.",
		"x.y.z.w.v.u.db.shop.svc.clusterset.local.", "DB.SHOP.SVC.CLUSTERSET.LOCAL.",
	} {
		f.Add(seed, dns.TypeA)
		f.Add(seed, dns.TypeSRV)
	}
	m := syncedPlugin()
	load(f, m, clusterSet()...)
	m.Next = test.NextHandler(dns.RcodeRefused, nil)
	f.Fuzz(func(t *testing.T, name string, qtype uint16) {
		if _, ok := dns.IsDomainName(name); !ok {
			return
		}
		r := new(dns.Msg)
		r.SetQuestion(dns.Fqdn(name), qtype)
		w := dnstest.NewRecorder(&test.ResponseWriter{})
		rcode, err := m.ServeDNS(context.TODO(), w, r)
		if err != nil {
			t.Fatalf("ServeDNS(%q, %d): %v", name, qtype, err)
		}
		if w.Msg == nil {
			if rcode == dns.RcodeSuccess || rcode == dns.RcodeNameError {
				t.Fatalf("ServeDNS(%q, %d) returned %d without writing a reply", name, qtype, rcode)
			}
			return
		}
		if _, err := w.Msg.Pack(); err != nil {
			t.Fatalf("reply to (%q, %d) does not pack: %v", name, qtype, err)
		}
		for _, rr := range w.Msg.Answer {
			if !dns.IsSubDomain(dns.Fqdn(name), rr.Header().Name) && rr.Header().Rrtype != dns.TypeSOA {
				t.Fatalf("answer owner %q is not the query name %q", rr.Header().Name, name)
			}
		}
	})
}
