package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/netip"
	"slices"
	"time"

	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"

	"github.com/miekg/dns"
)

// freshness is the write-to-answer delay of one contender.
type freshness struct {
	Contender contender `json:"contender"`
	// Delays are from sending the write to the first answer with the new data, in
	// seconds, per change, in order; even changes are ServiceImport updates, odd ones
	// EndpointSlice updates.
	Delays []float64 `json:"delays"`
	// WriteLatency is how long the API call itself took (median), seconds.
	WriteLatency float64 `json:"writeLatency"`
	Timeouts     int     `json:"timeouts"`
	// Load is the dnsperf runs that loaded the server meanwhile.
	Load     []perfResult `json:"load"`
	Problems []string     `json:"problems,omitempty"`
}

const (
	freshBlock   = 50
	freshTimeout = 10 * time.Second
	pollEvery    = 5 * time.Millisecond
)

// freshness changes a ServiceImport's VIP and an EndpointSlice's address, alternately,
// and polls the contender every 5 ms until it answers the new data, while dnsperf loads
// it with the mixed set at a fixed rate. The in-tree option and the plugin take turns
// in blocks of 50 changes.
func (b *bench) freshness(ctx context.Context) error {
	if err := b.setupQueryServers(ctx); err != nil {
		return err
	}
	mixed := setByID("mixed")
	input := b.path("queries", mixed.id+".txt")
	if err := writeFile(input, mixed.dnsperfInput()); err != nil {
		return err
	}
	rate := b.opts.FreshQPS
	if rate == 0 {
		for _, r := range b.res.Throughput {
			if r.Set == mixed.id {
				rate = int(medianQPS(r.Runs[ours]) / 2)
			}
		}
	}
	if rate == 0 {
		// No throughput result for the mixed set: measure (c)'s saturated rate briefly.
		res, err := runDNSPerf(ctx, dnsperfOptions{server: b.servers[ours].addr(), input: input, duration: 5 * time.Second,
			clients: b.opts.Clients, outstanding: b.opts.Outstanding, cpus: dnsperfCPU, output: b.path("freshness", "calibrate.txt")}, nil)
		if err != nil {
			return err
		}
		_ = keepSummary(b.path("freshness", "calibrate.txt"))
		rate = int(res.QPS / 2)
		log.Printf("freshness: (c) serves %.0f QPS of the mixed set; loading at %d", res.QPS, rate)
	}
	b.res.FreshQPS = rate

	ch := &changer{cl: b.cl}
	if err := ch.load(ctx); err != nil {
		return err
	}
	who := []contender{inTree, ours}
	out := map[contender]*freshness{}
	for _, c := range who {
		out[c] = &freshness{Contender: c}
	}
	writes := map[contender][]float64{}
	blocks := (b.opts.Changes + freshBlock - 1) / freshBlock
	b.waitQuiet(ctx, "freshness")
	for blk := range blocks {
		for k := range who {
			c := who[(blk+k)%len(who)]
			f := out[c]
			n := min(freshBlock, b.opts.Changes-blk*freshBlock)
			o := dnsperfOptions{server: b.servers[c].addr(), input: input, duration: 10 * time.Minute,
				clients: b.opts.Clients, outstanding: b.opts.Outstanding, qps: rate, cpus: dnsperfCPU,
				output: b.path("freshness", fmt.Sprintf("%s-block%d.txt", c, blk+1))}
			b.meter.reset()
			cmd, err := startDNSPerf(o)
			if err != nil {
				return err
			}
			time.Sleep(time.Second)
			for range n {
				d, w, err := ch.change(ctx, b.servers[c].addr())
				if errors.Is(err, errTimeout) {
					f.Timeouts++
				} else if err != nil {
					_, _ = stopDNSPerf(o, cmd, nil)
					return err
				}
				f.Delays = append(f.Delays, d.Seconds())
				writes[c] = append(writes[c], w.Seconds())
				time.Sleep(20 * time.Millisecond)
			}
			res, err := stopDNSPerf(o, cmd, b.meter)
			if err != nil {
				return err
			}
			_ = keepSummary(o.output)
			if p := checkRcodes(res, mixed.expectedRcodes()); p != "" {
				f.Problems = append(f.Problems, fmt.Sprintf("load block %d: %s", blk+1, p))
			}
			f.Load = append(f.Load, res)
			s := slices.Clone(f.Delays[len(f.Delays)-n:])
			slices.Sort(s)
			log.Printf("  freshness %-12s block %d: p50 %.1f ms, max %.1f ms, load %.0f qps (other procs %.2f cores)",
				c, blk+1, 1e3*percentile(s, 50), 1e3*s[len(s)-1], res.QPS, res.CPU.Foreign)
		}
	}
	b.res.Freshness = nil
	for _, c := range who {
		w := slices.Clone(writes[c])
		slices.Sort(w)
		out[c].WriteLatency = percentile(w, 50)
		b.res.Freshness = append(b.res.Freshness, *out[c])
	}
	return nil
}

var errTimeout = errors.New("no new answer within the timeout")

// changer makes the changes: even ones move fresh-vip's VIP, odd ones fresh-hl's first
// endpoint address. Every change writes an address never used before.
type changer struct {
	cl    *clients
	n     int
	si    *mcsv1beta1.ServiceImport
	slice *discovery.EndpointSlice
	dnsc  *dns.Client
}

func (ch *changer) load(ctx context.Context) error {
	var err error
	ch.si, err = ch.cl.mcs.MulticlusterV1beta1().ServiceImports(freshVIP.namespace).Get(ctx, freshVIP.name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	ch.slice, err = ch.cl.kube.DiscoveryV1().EndpointSlices(freshHL.namespace).Get(ctx, freshHL.sliceName(0), metav1.GetOptions{})
	if err != nil {
		return err
	}
	ch.dnsc = &dns.Client{Net: "udp", Timeout: 500 * time.Millisecond}
	return nil
}

// change makes one change and returns the time from sending the write to the first
// answer with the new data, and how long the write itself took.
func (ch *changer) change(ctx context.Context, addr string) (time.Duration, time.Duration, error) {
	ch.n++
	next := addrFrom(netip.MustParseAddr("10.70.0.1"), ch.n)
	var (
		qname string
		write func() error
	)
	if ch.n%2 == 0 {
		qname = freshVIP.fqdn()
		si := ch.si.DeepCopy()
		si.Spec.IPs = []string{next}
		write = func() error {
			upd, err := ch.cl.mcs.MulticlusterV1beta1().ServiceImports(si.Namespace).Update(ctx, si, metav1.UpdateOptions{})
			if err == nil {
				ch.si = upd
			}
			return err
		}
	} else {
		qname = freshHL.fqdn()
		es := ch.slice.DeepCopy()
		es.Endpoints[0].Addresses = []string{next}
		write = func() error {
			upd, err := ch.cl.kube.DiscoveryV1().EndpointSlices(es.Namespace).Update(ctx, es, metav1.UpdateOptions{})
			if err == nil {
				ch.slice = upd
			}
			return err
		}
	}
	m := new(dns.Msg)
	m.SetQuestion(qname, dns.TypeA)
	m.SetEdns0(4096, false)

	// Poll from the moment the write is sent: a watch event may reach the server
	// before the API response reaches us.
	seen := make(chan time.Time, 1)
	pollCtx, cancel := context.WithTimeout(ctx, freshTimeout)
	defer cancel()
	go func() {
		if t, ok := pollForA(pollCtx, ch.dnsc, m, addr, next, func(time.Duration) time.Duration { return pollEvery }); ok {
			seen <- t
		}
	}()
	start := time.Now()
	if err := write(); err != nil {
		return 0, 0, fmt.Errorf("change %d: %w", ch.n, err)
	}
	wrote := time.Since(start)
	select {
	case t := <-seen:
		return t.Sub(start), wrote, nil
	case <-pollCtx.Done():
		if ctx.Err() != nil {
			return 0, 0, ctx.Err()
		}
		return freshTimeout, wrote, errTimeout
	}
}

// pollForA asks server for m until an answer holds the A record addr and returns when
// that answer came, or false when ctx ends first. Polls start every(time since the
// first poll) apart, like a ticker's: a slow answer does not push the next one back.
func pollForA(ctx context.Context, dnsc *dns.Client, m *dns.Msg, server, addr string, every func(time.Duration) time.Duration) (time.Time, bool) {
	first := time.Now()
	for poll := first; ; {
		r, _, err := dnsc.ExchangeContext(ctx, m, server)
		if err == nil && hasA(r, addr) {
			return time.Now(), true
		}
		poll = poll.Add(every(poll.Sub(first)))
		select {
		case <-ctx.Done():
			return time.Time{}, false
		case <-time.After(time.Until(poll)):
		}
	}
}

func hasA(r *dns.Msg, addr string) bool {
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok && a.A.String() == addr {
			return true
		}
	}
	return false
}
