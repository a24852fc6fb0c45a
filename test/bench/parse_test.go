package main

import (
	"math"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

const dnsperfOutput = `DNS Performance Testing Tool
Version 2.10.0

[Status] Command line: dnsperf -s 127.0.0.1 -p 15353 -d q.txt -l 3 -c 4 -q 100 -e -v
[Status] Sending queries (to 127.0.0.1:15353)
> NOERROR a.example. A 0.000906
> NXDOMAIN b.example. A 0.000300
> NOERROR a.example. A 0.000100
> NOERROR b.example. A 0.002000
[Status] Testing complete (time limit)

Statistics:

  Queries sent:         180961
  Queries completed:    180960 (100.00%)
  Queries lost:         1 (0.00%)

  Response codes:       NOERROR 135720 (75.00%), NXDOMAIN 45240 (25.00%)
  Average packet size:  request 38, response 96
  Run time (s):         3.000925
  Queries per second:   60301.740297

  Average Latency (s):  0.001554 (min 0.000017, max 0.019000)
  Latency StdDev (s):   0.001547
`

func TestParseDNSPerf(t *testing.T) {
	r, err := parseDNSPerf(strings.NewReader(dnsperfOutput))
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent != 180961 || r.Completed != 180960 || r.Lost != 1 {
		t.Errorf("counts %d/%d/%d", r.Sent, r.Completed, r.Lost)
	}
	if r.Rcodes["NOERROR"] != 135720 || r.Rcodes["NXDOMAIN"] != 45240 || len(r.Rcodes) != 2 {
		t.Errorf("rcodes %v", r.Rcodes)
	}
	if math.Abs(r.QPS-60301.740297) > 1e-6 || r.AvgLatency != 0.001554 || r.MaxLatency != 0.019 || r.ResponseSize != 96 {
		t.Errorf("qps %v avg %v max %v size %v", r.QPS, r.AvgLatency, r.MaxLatency, r.ResponseSize)
	}
	if r.P50 != 0.0003 || r.P99 != 0.002 {
		t.Errorf("p50 %v p99 %v", r.P50, r.P99)
	}
	if p := checkRcodes(r, map[string]float64{"NOERROR": 0.75, "NXDOMAIN": 0.25}); p != "" {
		t.Errorf("checkRcodes: %s", p)
	}
	if p := checkRcodes(r, map[string]float64{"NOERROR": 1}); !strings.Contains(p, "45240 NXDOMAIN") {
		t.Errorf("checkRcodes missed the NXDOMAINs: %q", p)
	}
}

func TestParseDNSPerfIncomplete(t *testing.T) {
	if _, err := parseDNSPerf(strings.NewReader("[Status] Sending queries\n")); err == nil {
		t.Fatal("no error for a report without statistics")
	}
}

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
BenchmarkServeDNS/ClusterSetIP_A-2         	 3000000	       400.0 ns/op	     120 B/op	       3 allocs/op
BenchmarkServeDNS/ClusterSetIP_A-2         	 3000000	       300.0 ns/op	     120 B/op	       3 allocs/op
BenchmarkServeDNS/ClusterSetIP_A-2         	 3000000	       500.0 ns/op	     120 B/op	       3 allocs/op
BenchmarkUpdate-2   	   10000	    100000 ns/op	   50000 B/op	     500 allocs/op
BenchmarkMemoryPerEndpoint-2               	       5	 241921035 ns/op	       119.2 heapB/endpoint	80452107 B/op	  625160 allocs/op
PASS
`
	got, err := parseGoBench(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Name != "BenchmarkServeDNS/ClusterSetIP_A" || got[0].Runs != 3 || got[0].NsPerOp != 400 || got[0].AllocsPerOp != 3 {
		t.Fatalf("%+v", got)
	}
	if got[1].Name != "BenchmarkUpdate" || got[1].BytesPerOp != 50000 {
		t.Fatalf("%+v", got[1])
	}
	if got[2].Other["heapB/endpoint"] != 119.2 || got[2].AllocsPerOp != 625160 {
		t.Fatalf("%+v", got[2])
	}
}

func TestPercentile(t *testing.T) {
	v := make([]float64, 200)
	for i := range v {
		v[i] = float64(i + 1)
	}
	if p := percentile(v, 50); p != 100 {
		t.Errorf("p50 = %v", p)
	}
	if p := percentile(v, 99); p != 198 {
		t.Errorf("p99 = %v", p)
	}
	if p := percentile(v, 100); p != 200 {
		t.Errorf("p100 = %v", p)
	}
}

func TestReplaceGenerated(t *testing.T) {
	doc := "# T\n\nintro\n\n" + beginMarker + "\nold\n" + endMarker + "\n\nafter\n"
	got, err := replaceGenerated(doc, "new table\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# T\n\nintro\n\n" + beginMarker + "\n\nnew table\n\n" + endMarker + "\n\nafter\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if _, err := replaceGenerated("no markers", "x"); err == nil {
		t.Error("no error without markers")
	}
}

func TestDiffAnswers(t *testing.T) {
	if d := diffAnswers([]string{"a", "b"}, []string{"b", "a"}); d != "" {
		t.Errorf("same sets differ: %s", d)
	}
	d := diffAnswers([]string{"a", "b"}, []string{"a", "a", "c"})
	for _, want := range []string{"1 of 2 expected records missing", "1 unexpected", "1 duplicated"} {
		if !strings.Contains(d, want) {
			t.Errorf("%q lacks %q", d, want)
		}
	}
}

func TestNormalise(t *testing.T) {
	rr, _ := dns.NewRR("_http._tcp.Hl10.bench.svc.clusterset.local. 5 IN SRV 0 10 8080 web-0.cluster0.hl10.bench.svc.clusterset.local.")
	if got, want := normalise(rr), "_http._tcp.hl10.bench.svc.clusterset.local. SRV 8080 web-0.cluster0.hl10.bench.svc.clusterset.local."; got != want {
		t.Errorf("got %q want %q", got, want)
	}
}

func TestQuerySets(t *testing.T) {
	sets := querySets()
	mixed := setByID("mixed")
	if len(mixed.queries) != 8 {
		t.Fatalf("mixed has %d queries", len(mixed.queries))
	}
	if rc := mixed.expectedRcodes(); math.Abs(rc["NXDOMAIN"]-0.125) > 1e-9 || math.Abs(rc["NOERROR"]-0.875) > 1e-9 {
		t.Errorf("mixed rcodes %v", rc)
	}
	for _, s := range sets {
		for _, q := range s.queries {
			if q.rcode == dns.RcodeSuccess && len(q.answer) == 0 {
				t.Errorf("%s %s: no expected answer", s.id, q)
			}
		}
	}
	if n := len(setByID("hl100-a").queries[0].answer); n != 100 {
		t.Errorf("hl100 has %d answers", n)
	}
}

func TestCorefile(t *testing.T) {
	got := corefile(corefileOptions{kind: inTree, port: 1053, readyPort: 8181, kubeconfig: "/k"})
	for _, want := range []string{"clusterset.local:1053 {", "kubernetes clusterset.local {", "kubeconfig /k", "multicluster clusterset.local\n", "ready 127.0.0.1:8181", "errors"} {
		if !strings.Contains(got, want) {
			t.Errorf("Corefile lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "cache") || strings.Contains(got, "transfer") {
		t.Errorf("unexpected plugin in:\n%s", got)
	}
}

func TestHeapTotal(t *testing.T) {
	top := "Showing nodes accounting for 26404.83kB, 79.86% of 33065.94kB total\n"
	if got, want := heapTotal(top), 33065.94*1024; math.Abs(float64(got)-want) > 1 {
		t.Errorf("got %d", got)
	}
	if got := heapTotal("Showing nodes accounting for 1MB, 50% of 2.5MB total"); got != 5<<19 {
		t.Errorf("got %d", got)
	}
}

func TestSummarise(t *testing.T) {
	cum := `Showing top 400 nodes out of 147
      flat  flat%   sum%        cum   cum%
         0     0%     0%      7.84s 79.43%  github.com/miekg/dns.(*Server).serveUDPPacket
     0.03s   0.3%  0.91%      6.32s 64.03%  github.com/coredns/coredns/core/dnsserver.(*Server).ServeDNS
     0.03s   0.3%  1.42%      6.02s 60.99%  github.com/mcs-dns/multicluster.(*MultiCluster).ServeDNS
     0.01s   0.1%  1.52%      5.78s 58.56%  github.com/coredns/coredns/plugin.(*pluginWriter).WriteMsg
     0.02s   0.2% 39.61%      2.78s 28.17%  runtime.newstack
     0.01s   0.1% 48.02%      1.19s 12.06%  github.com/miekg/dns.(*Server).serveUDP
`
	got := summarise(cum, ours)
	want := "plugin lookup and answer building 2%, writing the reply 59%, reading queries 12%, goroutine stack growth 28%, GC 0% of CPU"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
