package multicluster

import (
	"context"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
)

// TestLocalityAnswersCounted: locality_answers_total counts an answer only when it
// holds the local cluster's subset. An SRV set falls back to every cluster's records
// when no local endpoint has its port, and such an answer is not narrowed even though
// the service's addresses are.
func TestLocalityAnswersCounted(t *testing.T) {
	pg := []epPort{{"pg", tcp, 5432}}
	both := []epPort{{"pg", tcp, 5432}, {"metrics", tcp, 9187}}
	objs := []any{
		// east (local) serves pg only; west serves pg and metrics.
		prefer(headlessImport("shop", "db", nil, sp("pg", tcp, 5432), sp("metrics", tcp, 9187)), "PreferClose"),
		slice("shop", "db-east", "db", "east", ipv4, pg, ready("db-0", "10.1.0.10")),
		slice("shop", "db-west", "db", "west", ipv4, both, ready("db-0", "10.2.0.10")),
		// east's endpoints carry no port at all: every SRV set falls back.
		prefer(headlessImport("shop", "bare", nil), "PreferClose"),
		slice("shop", "bare-east", "bare", "east", ipv4, nil, ready("b-0", "10.1.1.10")),
		slice("shop", "bare-west", "bare", "west", ipv4, pg, ready("b-0", "10.2.1.10")),
	}
	db, bare := svcName("db"), svcName("bare")
	cases := []struct {
		qname   string
		qtype   uint16
		answers int
		counted bool
	}{
		{db, dns.TypeA, 1, true},
		{db, dns.TypeSRV, 1, true},
		{"_pg._tcp." + db, dns.TypeSRV, 1, true},
		// No east endpoint has metrics: west's record, not narrowed.
		{"_metrics._tcp." + db, dns.TypeSRV, 1, false},
		{db, dns.TypeANY, 2, true},
		{bare, dns.TypeA, 1, true},
		{bare, dns.TypeSRV, 1, false},
		{"_pg._tcp." + bare, dns.TypeSRV, 1, false},
		// ANY holds the narrowed address.
		{bare, dns.TypeANY, 2, true},
		// Per-endpoint names are never narrowed.
		{"db-0.east." + db, dns.TypeA, 1, false},
	}
	m := syncedPlugin()
	m.loc = newLocality("east", false)
	load(t, m, objs...)
	ctx := context.TODO()
	for _, c := range cases {
		before := counterValue(t, localityAnswers)
		w := dnstest.NewRecorder(&test.ResponseWriter{})
		if _, err := m.ServeDNS(ctx, w, test.Case{Qname: c.qname, Qtype: c.qtype}.Msg()); err != nil {
			t.Fatal(err)
		}
		if len(w.Msg.Answer) != c.answers {
			t.Errorf("%s %s: %d answers, want %d: %v", dns.TypeToString[c.qtype], c.qname, len(w.Msg.Answer), c.answers, w.Msg.Answer)
		}
		if got := counterValue(t, localityAnswers) - before; got != map[bool]float64{true: 1, false: 0}[c.counted] {
			t.Errorf("%s %s: locality_answers_total moved by %v, want counted=%v", dns.TypeToString[c.qtype], c.qname, got, c.counted)
		}
	}
}
