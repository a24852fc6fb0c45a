package main

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// scalePoint is one size of ClusterSet.
type scalePoint struct {
	// Series is the scaleSeries the point belongs to; Clusters how many clusters
	// export its services.
	Series       string  `json:"series"`
	Clusters     int     `json:"clusters"`
	Imports      int     `json:"imports"`
	Headless     int     `json:"headless"`
	Slices       int     `json:"slices"`
	Endpoints    int     `json:"endpoints"`
	Namespaces   int     `json:"namespaces"`
	CreateSecs   float64 `json:"createSeconds"`
	LastService  string  `json:"lastService"`
	RestartSecs  float64 `json:"apiserverRestartSeconds"`
	APIServerRSS int64   `json:"apiserverRSS"`
	EtcdRSS      int64   `json:"etcdRSS"`
	// Requests counts the API requests after the API server restart, by "resource
	// VERB": a LIST of endpointslices and serviceimports there means the watches
	// relisted.
	Requests map[string]int `json:"requestsAfterRestart"`
	// Churn is API-write→answer under a steady rate of EndpointSlice updates.
	Churn      *churnRun     `json:"churn,omitempty"`
	Contenders []scaleResult `json:"contenders"`
}

// scaleResult is one contender at one scale point.
type scaleResult struct {
	Contender contender `json:"contender"`
	// ReadySecs: process start to the ready plugin's /ready answering 200.
	ReadySecs float64 `json:"readySeconds"`
	// AnswerSecs: process start to the last-created service answering.
	AnswerSecs float64 `json:"answerSeconds"`
	// StartupPeak is VmHWM after the initial sync.
	StartupPeak int64 `json:"startupPeakRSS"`
	// BeforeGC is VmRSS once synced and idle, before the first garbage collection
	// after the initial list.
	BeforeGC int64 `json:"beforeGCRSS"`
	// Steady is VmRSS once synced, collected and stable.
	Steady int64 `json:"steadyRSS"`
	// Timeline is VmRSS every second while settling; SettleSecs how long that took.
	Timeline   []int64 `json:"settleTimeline"`
	SettleSecs float64 `json:"settleSeconds"`
	// RelistPeak is VmHWM from just before the API server restart until the server is
	// idle again (the peak is reset first); RelistSampled is the largest VmRSS sampled
	// every 20 ms meanwhile.
	RelistPeak    int64   `json:"relistPeakRSS"`
	RelistSampled int64   `json:"relistSampledRSS"`
	AfterRelist   int64   `json:"afterRelistRSS"`
	ResyncSecs    float64 `json:"resyncSeconds"`
	AnswersAfter  bool    `json:"answersAfterRestart"`
	HeapTop       string  `json:"heapTop,omitempty"`
	// HeapLive is the in-use heap after a forced GC (from the heap profile), bytes.
	HeapLive int64 `json:"heapLive,omitempty"`
	// RelistAllocTop is where the relist allocated: the difference of two heap
	// profiles' alloc_space, before the API server restart and after the resync.
	RelistAllocTop string `json:"relistAllocTop,omitempty"`
}

const scaleNamespaces = 100

// scaleService is service i of the scale benchmark: one in five is headless; each is
// exported by two of the five clusters with five endpoints each.
func scaleService(i int) service {
	ns := fmt.Sprintf("scale-%02d", i%scaleNamespaces)
	name := fmt.Sprintf("svc-%05d", i)
	cl := []string{clusterName(i % 5), clusterName((i + 1) % 5)}
	base, _ := netip.ParseAddr(addrFrom(netip.MustParseAddr("10.128.0.0"), i*10))
	if i%5 == 4 {
		return headlessService(ns, name, cl, 5, base, http8080)
	}
	vip := addrFrom(netip.MustParseAddr("172.16.0.1"), i)
	return clusterSetIPService(ns, name, []string{vip}, v4Only, cl, 5, base, http80)
}

// scale measures both API-backed contenders at every point of each series; a series
// grows one ClusterSet on its own control plane, adding services from point to point.
func (b *bench) scale(ctx context.Context) error {
	b.res.Scale = nil
	if err := b.baselineRSS(ctx); err != nil {
		return err
	}
	series := []scaleSeries{importSeries(b.opts.ScalePoints), endpointSeries(b.opts.EndpointPoints, b.opts.Shape)}
	for _, sr := range series {
		if len(sr.Points) == 0 {
			continue
		}
		if err := b.scaleSeries(ctx, sr); err != nil {
			return fmt.Errorf("%s series: %w", sr.Name, err)
		}
	}
	return nil
}

func (b *bench) scaleSeries(ctx context.Context, sr scaleSeries) error {
	if err := b.startPlane(ctx, "plane-scale-"+sr.Name); err != nil {
		return err
	}
	defer b.stopPlane()
	var all []service
	for _, point := range sr.Points {
		n := sr.services(point)
		pt := scalePoint{Series: sr.Name, Clusters: sr.Clusters, Imports: n, Namespaces: min(n, scaleNamespaces)}
		var svcs []service
		for i := len(all); i < n; i++ {
			svcs = append(svcs, sr.service(i))
		}
		if len(svcs) == 0 {
			continue
		}
		all = append(all, svcs...)
		start := time.Now()
		if err := b.cl.namespaces(ctx, svcs); err != nil {
			return err
		}
		// Everything but the last service in parallel, then the last one, whose answer
		// tells that a server has seen everything.
		if err := b.cl.createAll(ctx, svcs[:len(svcs)-1], createWorkers); err != nil {
			return err
		}
		last := svcs[len(svcs)-1]
		if err := b.cl.createService(ctx, last); err != nil {
			return err
		}
		pt.CreateSecs = time.Since(start).Seconds()
		for _, s := range all {
			pt.Slices += len(s.slices)
			pt.Endpoints += s.endpointCount()
			if s.headless {
				pt.Headless++
			}
		}
		pt.LastService = last.fqdn()
		log.Printf("scale %s: created %d ServiceImports (%d headless), %d EndpointSlices, %d endpoints over %d clusters in %.1f s",
			pt.label(), pt.Imports, pt.Headless, pt.Slices, pt.Endpoints, pt.Clusters, pt.CreateSecs)
		b.waitQuiet(ctx, "scale "+pt.label())
		if err := b.measureScale(ctx, &pt, last, all); err != nil {
			return err
		}
		b.res.Scale = append(b.res.Scale, pt)
		b.save()
	}
	return nil
}

func (b *bench) measureScale(ctx context.Context, pt *scalePoint, last service, svcs []service) error {
	who := []contender{inTree, ours}
	if len(b.res.Scale)%2 == 1 {
		who = []contender{ours, inTree}
	}
	ports, err := freePorts(6)
	if err != nil {
		return err
	}
	res := map[contender]*scaleResult{}
	servers := map[contender]*server{}
	defer func() {
		for _, s := range servers {
			s.stop()
		}
		for c := range servers {
			delete(b.servers, c)
		}
	}()
	probe := new(dns.Msg)
	probe.SetQuestion(last.fqdn(), dns.TypeA)
	probe.SetEdns0(4096, false)
	dnsc := &dns.Client{Net: "udp", Timeout: 200 * time.Millisecond}
	answers := func(s *server) bool {
		r, _, err := dnsc.Exchange(probe, s.addr())
		return err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0
	}

	// Start one at a time (the other is idle), timing start → ready and → answer.
	for i, c := range who {
		s, err := startServer(ctx, serverOptions{bin: b.bin, dir: b.dir("scale-"+pt.id(), string(c)),
			corefile: corefileOptions{kind: c, port: ports[3*i], readyPort: ports[3*i+1], pprofPort: ports[3*i+2], kubeconfig: b.kubeconfig}})
		if err != nil {
			return err
		}
		servers[c] = s
		b.servers[c] = s
		r := &scaleResult{Contender: c}
		res[c] = r
		deadline := time.Now().Add(10 * time.Minute)
		for r.ReadySecs == 0 || r.AnswerSecs == 0 {
			if s.exited() {
				return fmt.Errorf("%s exited: %s", c, s.logTail())
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: not ready/answering after 10 minutes (ready %.1f s, answer %.1f s)", c, r.ReadySecs, r.AnswerSecs)
			}
			if r.ReadySecs == 0 && s.ready() {
				r.ReadySecs = time.Since(s.started).Seconds()
			}
			if r.AnswerSecs == 0 && answers(s) {
				r.AnswerSecs = time.Since(s.started).Seconds()
			}
			time.Sleep(10 * time.Millisecond)
		}
		log.Printf("  %-12s ready after %.2f s, answers the last service after %.2f s", c, r.ReadySecs, r.AnswerSecs)
		if err := waitIdle(ctx, []int{s.pid}, 5*time.Minute); err != nil {
			return fmt.Errorf("%s: %w", c, err)
		}
	}
	// Steady state. The Go runtime collects every two minutes even when idle and then
	// hands freed memory back to the OS gradually; until that first collection, RSS
	// still holds the garbage of the initial list, by chance more or less of it. So:
	// collect once (the heap profile with gc=1, which also gives the live heap), then
	// wait until RSS has not moved for 5 s (at least Settle, at most a minute).
	for _, c := range who {
		m, err := readMem(servers[c].pid)
		if err != nil {
			return err
		}
		res[c].StartupPeak, res[c].BeforeGC = m.HWM, m.RSS
		res[c].HeapTop = b.heapTop(ctx, servers[c], fmt.Sprintf("heap-%s-%s", pt.id(), c))
		res[c].HeapLive = heapTotal(res[c].HeapTop)
	}
	// A second collection: the runtime only returns pages freed before the previous
	// collection (the scavenger skips chunks that were dense in the current cycle).
	time.Sleep(2 * time.Second)
	for _, c := range who {
		_ = fetch(ctx, fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap?gc=1", servers[c].opts.corefile.pprofPort), os.DevNull)
	}
	start := time.Now()
	for {
		stable := true
		for _, c := range who {
			m, err := readMem(servers[c].pid)
			if err != nil {
				return err
			}
			r := res[c]
			r.Timeline = append(r.Timeline, m.RSS)
			if n := len(r.Timeline); n < 6 || absDiff(r.Timeline[n-1], r.Timeline[n-6]) > 1<<20 {
				stable = false
			}
		}
		if (stable && time.Since(start) >= b.opts.Settle) || time.Since(start) >= time.Minute {
			break
		}
		time.Sleep(time.Second)
	}
	for _, c := range who {
		r := res[c]
		r.Steady = r.Timeline[len(r.Timeline)-1]
		r.SettleSecs = time.Since(start).Seconds()
		var tl []string
		for _, v := range r.Timeline {
			tl = append(tl, fmt.Sprintf("%.0f", mib(v)))
		}
		log.Printf("  %-12s steady RSS %.1f MiB after %.0f s (%.1f MiB before the first GC, startup peak %.1f MiB, live heap %.1f MiB; RSS every second: %s)",
			c, mib(r.Steady), r.SettleSecs, mib(r.BeforeGC), mib(r.StartupPeak), mib(r.HeapLive), strings.Join(tl, " "))
	}
	if e, a, err := b.cp.RSS(); err == nil {
		pt.EtcdRSS, pt.APIServerRSS = e, a
	}

	// Relist: reset the peaks, restart the API server, wait until both are idle again.
	var pids []int
	for _, c := range who {
		if err := resetPeak(servers[c].pid); err != nil {
			return fmt.Errorf("resetting the RSS peak: %w", err)
		}
		pids = append(pids, servers[c].pid)
	}
	// Allocation profiles before and after the relist show what it allocates. Both
	// collect first: a profile's counts are as of the last collection, and a relist
	// that allocates less than one cycle's worth would otherwise show nothing.
	before := map[contender]string{}
	for _, c := range who {
		before[c] = b.path("profiles", fmt.Sprintf("relist-%s-%s-before.pb.gz", pt.id(), c))
		if err := fetch(ctx, fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap?gc=1", servers[c].opts.corefile.pprofPort), before[c]); err != nil {
			return err
		}
	}
	sampled := sampleRSS(pids, 20*time.Millisecond)
	start = time.Now()
	if err := b.cp.RestartAPIServer(ctx); err != nil {
		return err
	}
	pt.RestartSecs = time.Since(start).Seconds()
	time.Sleep(time.Second)
	err = waitIdle(ctx, pids, 10*time.Minute)
	peaks := sampled()
	if err != nil {
		return fmt.Errorf("after the API server restart: %w", err)
	}
	for i, c := range who {
		r := res[c]
		r.ResyncSecs = time.Since(start).Seconds()
		m, err := readMem(servers[c].pid)
		if err != nil {
			return err
		}
		r.RelistPeak, r.RelistSampled, r.AfterRelist = m.HWM, peaks[i], m.RSS
		r.AnswersAfter = answers(servers[c])
		log.Printf("  %-12s relist peak %.1f MiB (sampled %.1f MiB), after %.1f MiB, answers: %v",
			c, mib(r.RelistPeak), mib(r.RelistSampled), mib(r.AfterRelist), r.AnswersAfter)
	}
	for _, c := range who {
		res[c].RelistAllocTop = b.allocDiff(ctx, servers[c], before[c], fmt.Sprintf("relist-%s-%s", pt.id(), c))
	}
	pt.Requests = b.apiRequests(ctx)
	if b.opts.ChurnSecs > 0 {
		run, err := b.churn(ctx, pt, svcs, servers)
		if err != nil {
			return err
		}
		pt.Churn = run
	}
	for _, c := range []contender{inTree, ours} {
		pt.Contenders = append(pt.Contenders, *res[c])
	}
	return nil
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// waitIdle waits until the processes together use less than 5 % of a core over two
// consecutive 500 ms windows.
func waitIdle(ctx context.Context, pids []int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	quiet := 0
	prev := time.Duration(-1)
	for quiet < 2 {
		var sum time.Duration
		for _, pid := range pids {
			t, err := procCPU(pid)
			if err != nil {
				return err
			}
			sum += t
		}
		if prev >= 0 && sum-prev < 25*time.Millisecond {
			quiet++
		} else if prev >= 0 {
			quiet = 0
		}
		prev = sum
		if time.Now().After(deadline) {
			return fmt.Errorf("still busy after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return nil
}

// sampleRSS samples the processes' VmRSS until the returned function is called, which
// returns the largest value seen per process.
func sampleRSS(pids []int, every time.Duration) func() []int64 {
	peaks := make([]int64, len(pids))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			for i, pid := range pids {
				if m, err := readMem(pid); err == nil {
					peaks[i] = max(peaks[i], m.RSS)
				}
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() []int64 {
		close(stop)
		wg.Wait()
		return peaks
	}
}

var requestRE = regexp.MustCompile(`^apiserver_request_total\{(.*)\} ([0-9.e+]+)$`)
var labelRE = regexp.MustCompile(`(\w+)="([^"]*)"`)

// apiRequests returns the API server's request counters for the watched resources, by
// "resource VERB".
func (b *bench) apiRequests(ctx context.Context) map[string]int {
	raw, err := b.cl.kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		log.Printf("API server metrics: %v", err)
		return nil
	}
	out := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := requestRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		labels := map[string]string{}
		for _, l := range labelRE.FindAllStringSubmatch(m[1], -1) {
			labels[l[1]] = l[2]
		}
		switch labels["resource"] {
		case "serviceimports", "endpointslices", "services", "namespaces":
		default:
			continue
		}
		v, _ := strconv.ParseFloat(m[2], 64)
		out[labels["resource"]+" "+labels["verb"]] += int(v)
	}
	return out
}

// heapTop returns the top of an in-use heap profile of a server.
func (b *bench) heapTop(ctx context.Context, s *server, name string) string {
	path := b.path("profiles", name+".pb.gz")
	// gc=1: collect first, so the profile shows what is live, not the garbage of the
	// initial list.
	url := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap?gc=1", s.opts.corefile.pprofPort)
	if err := fetch(ctx, url, path); err != nil {
		log.Printf("heap profile of %s: %v", s.kind, err)
		return ""
	}
	top, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=15", "-sample_index=inuse_space", b.bin, path).CombinedOutput()
	if err != nil {
		log.Printf("go tool pprof: %v\n%s", err, top)
		return ""
	}
	_ = os.WriteFile(filepath.Join(filepath.Dir(path), name+".top.txt"), top, 0o644)
	return string(top)
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var heapTotalRE = regexp.MustCompile(`of ([0-9.]+)([kMG]?B) total`)

// heapTotal reads the total from the header of `go tool pprof -top` output.
func heapTotal(top string) int64 {
	m := heapTotalRE.FindStringSubmatch(top)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	switch m[2] {
	case "kB":
		v *= 1 << 10
	case "MB":
		v *= 1 << 20
	case "GB":
		v *= 1 << 30
	}
	return int64(v)
}

// allocDiff fetches a heap profile of s and returns `go tool pprof -top` of the
// allocations since the profile at base.
func (b *bench) allocDiff(ctx context.Context, s *server, base, name string) string {
	path := b.path("profiles", name+"-after.pb.gz")
	if err := fetch(ctx, fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap?gc=1", s.opts.corefile.pprofPort), path); err != nil {
		log.Printf("heap profile of %s: %v", s.kind, err)
		return ""
	}
	top, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=15", "-sample_index=alloc_space", "-diff_base", base, b.bin, path).CombinedOutput()
	if err != nil {
		log.Printf("go tool pprof: %v\n%s", err, top)
		return ""
	}
	_ = os.WriteFile(filepath.Join(filepath.Dir(path), name+".alloc.top.txt"), top, 0o644)
	return string(top)
}

func absDiff(a, b int64) int64 {
	if a > b {
		return a - b
	}
	return b - a
}

// baselineRSS records the RSS of bin/coredns serving nothing but whoami: what every
// contender's RSS includes before it holds any data.
func (b *bench) baselineRSS(ctx context.Context) error {
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	s, err := startServer(ctx, serverOptions{bin: b.bin, dir: b.dir("baseline"), waitDNS: true,
		corefile: corefileOptions{kind: baseline, port: ports[0]}})
	if err != nil {
		return err
	}
	defer s.stop()
	time.Sleep(3 * time.Second)
	m, err := readMem(s.pid)
	if err != nil {
		return err
	}
	b.res.BaselineRSS = m.RSS
	log.Printf("baseline: bin/coredns with whoami only: RSS %.1f MiB", mib(m.RSS))
	return nil
}
