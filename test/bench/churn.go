package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/miekg/dns"
)

// churnRun is API-write→answer at one scale point while EndpointSlices change at a
// steady rate: the pods of headless services come and go, one endpoint address per
// update, and both contenders are polled for each new address.
type churnRun struct {
	// Rate is the target (updates a second), Achieved what was sent.
	Rate     int     `json:"rate"`
	Achieved float64 `json:"achievedRate"`
	Seconds  float64 `json:"seconds"`
	// Units is how many EndpointSlices the updates went round (headless services'
	// slices; no slice has two updates in flight).
	Units int `json:"units"`
	// WriteP50 and WriteP99 are how long the API update itself took, seconds.
	WriteP50 float64       `json:"writeP50"`
	WriteP99 float64       `json:"writeP99"`
	Failed   int           `json:"failedWrites"`
	Results  []churnResult `json:"results"`
}

// churnResult is one contender's delays under the churn.
type churnResult struct {
	Contender contender `json:"contender"`
	// Delays are from sending the write to the first answer with the new address,
	// seconds, sorted.
	Delays   []float64 `json:"delays"`
	Timeouts int       `json:"timeouts"`
}

func (r churnRun) result(c contender) churnResult {
	for _, x := range r.Results {
		if x.Contender == c {
			return x
		}
	}
	return churnResult{}
}

// churnUnit is one EndpointSlice the churn updates: the last object written (its
// resource version is the base of the next update) and how many updates it had.
type churnUnit struct {
	svc   service
	slice int
	obj   *discovery.EndpointSlice
	n     int
	busy  atomic.Bool
}

// churnPoll is how often a new address is looked for: every 5 ms for the first 200 ms,
// then every 25 ms, so slow answers under load do not multiply the queries.
func churnPoll(waited time.Duration) time.Duration {
	if waited < 200*time.Millisecond {
		return 5 * time.Millisecond
	}
	return 25 * time.Millisecond
}

// churn updates headless services' EndpointSlices at opts.ChurnRate a second for
// opts.ChurnSecs: each update moves one endpoint to an address never used before, and
// every server is polled for that endpoint's own name
// (hostname.cluster.service.namespace.svc.clusterset.local) until it answers the new
// address.
func (b *bench) churn(ctx context.Context, pt *scalePoint, svcs []service, servers map[contender]*server) (*churnRun, error) {
	var units []*churnUnit
	for _, s := range svcs {
		if !s.headless {
			continue
		}
		for k := range s.slices {
			units = append(units, &churnUnit{svc: s, slice: k})
		}
	}
	if len(units) == 0 {
		return nil, errors.New("churn: no headless service to update")
	}
	who := []contender{inTree, ours}
	run := &churnRun{Rate: b.opts.ChurnRate, Units: len(units)}
	delays := map[contender][]float64{}
	timeouts := map[contender]int{}
	var (
		mu      sync.Mutex
		writes  []float64
		wg      sync.WaitGroup
		next    int
		sent    int
		failed  int
		lastErr error
	)
	dnsc := &dns.Client{Net: "udp", Timeout: 500 * time.Millisecond}
	interval := time.Second / time.Duration(b.opts.ChurnRate)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	start := time.Now()
	end := start.Add(time.Duration(b.opts.ChurnSecs) * time.Second)
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		// The next unit with no update in flight.
		var u *churnUnit
		for range units {
			cand := units[next%len(units)]
			next++
			if cand.busy.CompareAndSwap(false, true) {
				u = cand
				break
			}
		}
		if u == nil {
			continue // every slice busy: this tick is skipped, and shows in Achieved
		}
		sent++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer u.busy.Store(false)
			addr := addrFrom(netip.MustParseAddr("100.64.0.0"), int(b.churnSeq.Add(1)))
			d, w, err := b.churnOne(ctx, u, addr, servers, who, dnsc)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				lastErr = err
				return
			}
			writes = append(writes, w.Seconds())
			for i, c := range who {
				if d[i] < 0 {
					timeouts[c]++
					continue
				}
				delays[c] = append(delays[c], d[i].Seconds())
			}
		}()
	}
	wg.Wait()
	run.Seconds = time.Since(start).Seconds()
	run.Achieved = float64(sent) / run.Seconds
	run.Failed = failed
	if failed > 0 {
		log.Printf("  churn: %d of %d writes failed, the last with: %v", failed, sent, lastErr)
	}
	if len(writes) == 0 {
		return nil, fmt.Errorf("churn: no update succeeded (%d sent): %v", sent, lastErr)
	}
	slices.Sort(writes)
	run.WriteP50, run.WriteP99 = percentile(writes, 50), percentile(writes, 99)
	var line []string
	for _, c := range []contender{inTree, ours} {
		r := churnResult{Contender: c, Delays: sortedCopy(delays[c]), Timeouts: timeouts[c]}
		run.Results = append(run.Results, r)
		line = append(line, fmt.Sprintf("%s p50 %.1f ms p99 %.1f ms (%d timeouts)", c, 1e3*percentile(r.Delays, 50), 1e3*percentile(r.Delays, 99), r.Timeouts))
	}
	log.Printf("  churn %s: %.0f updates/s over %d slices for %.0f s: %s", pt.label(), run.Achieved, len(units), run.Seconds, strings.Join(line, "; "))
	return run, nil
}

// churnOne makes one update of u (endpoint n mod size moves to addr) and returns, per
// contender in who, the time from sending the write to the first answer with addr (-1
// on timeout), and how long the write took.
func (b *bench) churnOne(ctx context.Context, u *churnUnit, addr string, servers map[contender]*server, who []contender, dnsc *dns.Client) ([]time.Duration, time.Duration, error) {
	api := b.cl.kube.DiscoveryV1().EndpointSlices(u.svc.namespace)
	if u.obj == nil {
		cur, err := api.Get(ctx, u.svc.sliceName(u.slice), metav1.GetOptions{})
		if err != nil {
			return nil, 0, err
		}
		u.obj = cur
	}
	es := u.obj.DeepCopy()
	ep := &es.Endpoints[u.n%len(es.Endpoints)]
	u.n++
	ep.Addresses = []string{addr}
	qname := fmt.Sprintf("%s.%s.%s", *ep.Hostname, u.svc.slices[u.slice].cluster, u.svc.fqdn())
	m := new(dns.Msg)
	m.SetQuestion(qname, dns.TypeA)

	// Poll from the moment the write is sent: a watch event may reach a server before
	// the API response reaches us.
	pollCtx, cancel := context.WithTimeout(ctx, freshTimeout)
	defer cancel()
	out := make([]time.Duration, len(who))
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range who {
		out[i] = -1
		wg.Add(1)
		go func() {
			defer wg.Done()
			if t, ok := pollForA(pollCtx, dnsc, m, servers[c].addr(), addr, churnPoll); ok {
				out[i] = t.Sub(start)
			}
		}()
	}
	upd, err := api.Update(ctx, es, metav1.UpdateOptions{})
	wrote := time.Since(start)
	if err != nil {
		cancel()
		wg.Wait()
		u.obj = nil // fetch it again next time
		return nil, 0, err
	}
	u.obj = upd
	wg.Wait()
	return out, wrote, nil
}
