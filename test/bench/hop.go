package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// The hop phase measures what the standalone server costs (README "Deploying"): a
// cluster DNS that cannot load the plugin forwards clusterset.local to it, so every
// query the forwarder's cache does not answer crosses one more hop. It compares, at one
// fixed query rate, the CPU all DNS processes spend per query and the p99 latency:
//
//   - swap: the image swap, the plugin in the cluster's CoreDNS (deploy/configmap.yaml's
//     Corefile: cache off for clusterset.local, since the plugin answers from memory);
//   - recipe: stock CoreDNS v1.15.0 (no plugin) with the forwarding stanza of
//     deploy/standalone/forwarding (errors, cache 30, forward) in front of bin/coredns
//     with deploy/standalone's Corefile; the cache answers repeats for the records' TTL;
//   - every-query: the same without `cache`, so every query crosses the hop: the
//     hop's own cost, and the case of names asked less often than once per TTL.
//
// Every process is pinned to core 0 with GOMAXPROCS=1, dnsperf to core 1, as in the
// throughput phase; the CPU per query is the sum over the configuration's processes.

// hopConfig is one way of serving clusterset.local to a pod.
type hopConfig string

const (
	hopSwap       hopConfig = "swap"
	hopRecipe     hopConfig = "recipe"
	hopEveryQuery hopConfig = "every-query"
)

var hopConfigs = []hopConfig{hopSwap, hopRecipe, hopEveryQuery}

func (c hopConfig) label() string {
	switch c {
	case hopSwap:
		return "image swap: plugin in the cluster's CoreDNS"
	case hopRecipe:
		return "standalone: stock CoreDNS `forward` + `cache 30` (the recipe)"
	case hopEveryQuery:
		return "standalone: stock CoreDNS `forward`, no cache (every query crosses the hop)"
	}
	return string(c)
}

// hopRun is one dnsperf run against a configuration.
type hopRun struct {
	perfResult
	// CPUPerQuery is the CPU time of all the configuration's DNS processes divided by
	// the queries completed, in seconds.
	CPUPerQuery float64 `json:"cpuPerQuery"`
}

// hopResult holds a configuration's runs.
type hopResult struct {
	Config hopConfig `json:"config"`
	QPS    int       `json:"qps"`
	Set    string    `json:"set"`
	Check  string    `json:"check"`
	Runs   []hopRun  `json:"runs"`
}

// hopProcs are the running processes of one configuration; the first answers pods.
type hopProcs []*harness.CoreDNS

func (p hopProcs) stop() {
	for _, c := range p {
		_ = c.Stop()
	}
}

func (p hopProcs) cpu() (time.Duration, error) {
	var sum time.Duration
	for _, c := range p {
		d, err := procCPU(c.PID)
		if err != nil {
			return 0, err
		}
		sum += d
	}
	return sum, nil
}

// httpOK reports whether url answers 200 (the ready plugin's /ready).
func httpOK(ctx context.Context, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := (&http.Client{Timeout: 500 * time.Millisecond}).Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// hop runs the phase.
func (b *bench) hop(ctx context.Context) error {
	stock := filepath.Join(b.root, ".cache", "bin", "coredns-stock")
	if err := b.setupQueryServers(ctx); err != nil {
		return err
	}
	set := setByID("mixed")
	input := b.path("queries", "hop-"+set.id+".txt")
	if err := writeFile(input, set.dnsperfInput()); err != nil {
		return err
	}
	procs := map[hopConfig]hopProcs{}
	defer func() {
		for _, p := range procs {
			p.stop()
		}
		b.extraPIDs = nil
	}()
	b.res.Hop = nil
	for _, c := range hopConfigs {
		p, err := b.startHop(ctx, c, stock)
		if err != nil {
			return fmt.Errorf("%s: %w", c, err)
		}
		procs[c] = p
		for _, x := range p {
			b.extraPIDs = append(b.extraPIDs, x.PID)
		}
		r := checkSet(ctx, p[0].Addr(), contender(c), set)
		check := "as expected"
		if !r.OK {
			check = "differs: " + r.Detail
			log.Printf("check %s through %s: %s", set.id, c, r.Detail)
		}
		b.res.Hop = append(b.res.Hop, hopResult{Config: c, QPS: b.opts.HopQPS, Set: set.id, Check: check})
	}
	for round := range b.opts.Runs {
		b.waitQuiet(ctx, fmt.Sprintf("hop round %d", round+1))
		for k := range hopConfigs {
			i := (round + k) % len(hopConfigs) // each configuration goes first equally often
			c := hopConfigs[i]
			run, err := b.hopRun(ctx, procs[c], input, fmt.Sprintf("%s-r%d", c, round+1))
			if err != nil {
				return err
			}
			if p := checkRcodes(run.perfResult, set.expectedRcodes()); p != "" {
				log.Printf("  hop %s: unexpected response codes: %s", c, p)
			}
			b.res.Hop[i].Runs = append(b.res.Hop[i].Runs, run)
			log.Printf("  hop %-11s %8.0f qps  p99 %.3f ms  %.1f µs CPU/query (server %.2f cores)  others %.2f",
				c, run.QPS, 1e3*run.P99, 1e6*run.CPUPerQuery, run.ServerCPU, run.CPU.Foreign)
		}
		b.save()
	}
	return nil
}

// hopRun runs dnsperf at the fixed rate against a configuration.
func (b *bench) hopRun(ctx context.Context, p hopProcs, input, tag string) (hopRun, error) {
	o := dnsperfOptions{server: p[0].Addr(), input: input, duration: b.opts.Duration, clients: b.opts.Clients,
		outstanding: b.opts.Outstanding, qps: b.opts.HopQPS, cpus: dnsperfCPU, output: b.path("hop", tag+".txt")}
	b.meter.reset()
	before, err := p.cpu()
	if err != nil {
		return hopRun{}, err
	}
	res, err := runDNSPerf(ctx, o, b.meter)
	if err != nil {
		return hopRun{}, err
	}
	after, err := p.cpu()
	if err != nil {
		return hopRun{}, err
	}
	run := hopRun{perfResult: res}
	if res.RunTime > 0 {
		run.ServerCPU = (after - before).Seconds() / res.RunTime
	}
	if res.Completed > 0 {
		run.CPUPerQuery = (after - before).Seconds() / float64(res.Completed)
	}
	return run, keepSummary(o.output)
}

// startHop starts a configuration's processes and waits until they serve.
func (b *bench) startHop(ctx context.Context, c hopConfig, stock string) (hopProcs, error) {
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	start := func(bin, name string, port, ready int, corefile string) (*harness.CoreDNS, error) {
		p, err := harness.Start(ctx, harness.Options{Bin: bin, Dir: b.dir("hop", name), Port: port, Corefile: corefile,
			Prefix: []string{"taskset", "-c", serverCPU}, Env: []string{"GOMAXPROCS=1"}, Wait: 60 * time.Second})
		if err != nil {
			return nil, err
		}
		if ready != 0 {
			url := fmt.Sprintf("http://127.0.0.1:%d/ready", ready)
			if err := waitFor(ctx, 60*time.Second, func() bool { return httpOK(ctx, url) }); err != nil {
				_ = p.Stop()
				return nil, fmt.Errorf("%s not ready: %w", name, err)
			}
		}
		return p, nil
	}
	if c == hopSwap {
		p, err := start(b.bin, "swap", ports[0], ports[1], swapCorefile(ports[0], ports[1], ports[3], b.kubeconfig))
		if err != nil {
			return nil, err
		}
		return hopProcs{p}, nil
	}
	sa, err := start(b.bin, string(c)+"-standalone", ports[1], ports[2], standaloneCorefile(ports[1], ports[2], ports[4], b.kubeconfig))
	if err != nil {
		return nil, err
	}
	fw, err := start(stock, string(c)+"-stock", ports[0], 0, forwardCorefile(ports[0], ports[1], c == hopRecipe))
	if err != nil {
		_ = sa.Stop()
		return nil, err
	}
	return hopProcs{fw, sa}, nil
}

// swapCorefile is deploy/configmap.yaml's server block as far as clusterset.local
// queries go (the plugins after multicluster never see one): errors, kubernetes for
// cluster.local, multicluster, prometheus, and cache with clusterset.local left out.
func swapCorefile(port, ready, metrics int, kubeconfig string) string {
	return fmt.Sprintf(`.:%d {
    bind 127.0.0.1
    errors
    ready 127.0.0.1:%d
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig %s
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    multicluster clusterset.local {
        kubeconfig %[3]s
    }
    prometheus 127.0.0.1:%[4]d
    cache 30 {
        disable success cluster.local
        disable denial cluster.local
        disable success clusterset.local
        disable denial clusterset.local
    }
    loadbalance
}
`, port, ready, kubeconfig, metrics)
}

// standaloneCorefile is deploy/standalone/configmap.yaml's (health left out: it sees no
// queries).
func standaloneCorefile(port, ready, metrics int, kubeconfig string) string {
	return fmt.Sprintf(`clusterset.local:%d {
    bind 127.0.0.1
    errors
    ready 127.0.0.1:%d
    multicluster {
        kubeconfig %s
    }
    prometheus 127.0.0.1:%d
    loadbalance
}
`, port, ready, kubeconfig, metrics)
}

// forwardCorefile is the forwarding stanza of deploy/standalone/forwarding, with or
// without its cache.
func forwardCorefile(port, upstream int, cache bool) string {
	c := ""
	if cache {
		c = "    cache 30\n"
	}
	return fmt.Sprintf("clusterset.local:%d {\n    bind 127.0.0.1\n    errors\n%s    forward . 127.0.0.1:%d\n}\n", port, c, upstream)
}

// hopReport renders the phase's table: medians, and ratios against the image swap.
func hopReport(rs []hopResult, o options) string {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	p("### The standalone server's extra hop\n\n")
	p("The `mixed` query set at a fixed %d queries per second, median of %d alternating runs of %s; every DNS process pinned to core %s with GOMAXPROCS=1, dnsperf `-c %d -q %d -e` to core %s. CPU per query is the CPU time of all the configuration's DNS processes over the queries answered.\n\n",
		o.HopQPS, o.Runs, o.Duration, serverCPU, o.Clients, o.Outstanding, dnsperfCPU)
	p("| configuration | answers | CPU per query | × image swap | p99 latency | × image swap | p50 latency |\n|---|---|---|---|---|---|---|\n")
	var base hopRun
	for _, r := range rs {
		m := medianHop(r.Runs)
		if r.Config == hopSwap {
			base = m
		}
		p("| %s | %s | %.1f µs | %s | %s ms | %s | %s ms |\n", r.Config.label(), mdEscape(r.Check), 1e6*m.CPUPerQuery,
			fmtRatio(ratio(m.CPUPerQuery, base.CPUPerQuery)), ms(m.P99), fmtRatio(ratio(m.P99, base.P99)), ms(m.P50))
	}
	p("\n")
	return w.String()
}

// medianHop returns the medians of the runs' CPU per query and latencies.
func medianHop(runs []hopRun) hopRun {
	if len(runs) == 0 {
		return hopRun{}
	}
	ps := make([]perfResult, len(runs))
	cpq := make([]float64, len(runs))
	for i, r := range runs {
		ps[i] = r.perfResult
		cpq[i] = r.CPUPerQuery
	}
	var m hopRun
	m.P99 = medianOf(ps, func(r perfResult) float64 { return r.P99 })
	m.P50 = medianOf(ps, func(r perfResult) float64 { return r.P50 })
	m.QPS = medianOf(ps, func(r perfResult) float64 { return r.QPS })
	s := sortedCopy(cpq)
	m.CPUPerQuery = s[len(s)/2]
	return m
}
