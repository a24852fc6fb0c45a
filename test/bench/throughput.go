package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// CPU placement of the throughput and freshness runs: CoreDNS (GOMAXPROCS=1) on core
// 0, dnsperf on core 1; the control plane and this program are not pinned (they are
// idle while queries run).
const (
	serverCPU  = "0"
	dnsperfCPU = "1"
)

var contenders = []contender{fileZone, inTree, ours}

// contendersFor lists the contenders measured on a set: the small-zone file plugin
// only runs the ClusterSetIP A set.
func contendersFor(set string) []contender {
	if set == "csip-a" {
		return []contender{fileZone, inTree, ours, fileSmall}
	}
	return contenders
}

// throughput sets up the control plane, the objects and the three contenders, checks
// their answers with dig and runs dnsperf against each in alternating runs.
func (b *bench) throughput(ctx context.Context) error {
	if err := b.setupQueryServers(ctx); err != nil {
		return err
	}
	sets := querySets()
	b.res.Checks = nil
	for _, set := range sets {
		for _, c := range contendersFor(set.id) {
			r := checkSet(ctx, b.servers[c].addr(), c, set)
			b.res.Checks = append(b.res.Checks, r)
			if !r.OK {
				log.Printf("check %s on %s: %s", set.id, c, r.Detail)
			}
		}
	}

	var measured []querySet
	for _, s := range sets {
		if s.measured && (len(b.opts.Sets) == 0 || slices.Contains(b.opts.Sets, s.id)) {
			measured = append(measured, s)
		}
	}
	results := make([]setResult, len(measured))
	for i, s := range measured {
		results[i] = setResult{Set: s.id, Title: s.title, Runs: map[contender][]perfResult{}}
		if err := os.WriteFile(b.path("queries", s.id+".txt"), []byte(s.dnsperfInput()), 0o644); err != nil {
			return err
		}
	}
	// Warm up every server (first goroutine stacks, heap growth) with a short run of
	// the mixed set; not recorded.
	for _, c := range contendersFor("csip-a") {
		o := dnsperfOptions{server: b.servers[c].addr(), input: b.path("queries", "warmup.txt"), duration: 2 * time.Second,
			clients: b.opts.Clients, outstanding: b.opts.Outstanding, cpus: dnsperfCPU, output: b.path("throughput", "warmup-"+string(c)+".txt")}
		if err := os.WriteFile(o.input, []byte(setByID("mixed").dnsperfInput()), 0o644); err != nil {
			return err
		}
		if _, err := runDNSPerf(ctx, o, nil); err != nil {
			return err
		}
		_ = os.Remove(o.output)
	}
	total := 0
	for _, s := range measured {
		total += b.opts.Runs * len(contendersFor(s.id))
	}
	done := 0
	for round := range b.opts.Runs {
		b.waitQuiet(ctx, fmt.Sprintf("throughput round %d", round+1))
		if err := ctx.Err(); err != nil {
			return err
		}
		for i, s := range measured {
			// Alternate: every contender goes first, second and third equally often.
			who := contendersFor(s.id)
			for k := range who {
				c := who[(round+i+k)%len(who)]
				res, err := b.perfRun(ctx, s, c, fmt.Sprintf("r%d", round+1))
				if err != nil {
					return err
				}
				if p := checkRcodes(res, s.expectedRcodes()); p != "" {
					results[i].Problems = append(results[i].Problems, fmt.Sprintf("%s run %d: %s", c, round+1, p))
					log.Printf("  %s %s: unexpected response codes: %s", s.id, c, p)
				}
				results[i].Runs[c] = append(results[i].Runs[c], res)
				done++
				log.Printf("  [%d/%d] %-10s %-12s %8.0f qps  avg %.3f ms  p99 %.3f ms  cpu: server %.2f (core %.2f) dnsperf %.2f (core %.2f) others %.2f",
					done, total, s.id, c, res.QPS, 1e3*res.AvgLatency, 1e3*res.P99, res.ServerCPU, res.ServerCore, res.ClientCPU, res.ClientCore, res.CPU.Foreign)
			}
		}
		b.res.Throughput = results
		b.save()
	}
	b.res.Throughput = results
	return b.profiles(ctx, measured)
}

// perfRun runs dnsperf with a set against a contender at full speed. A run during
// which other processes used more than MaxForeign cores is repeated once after waiting
// for quiet.
func (b *bench) perfRun(ctx context.Context, s querySet, c contender, tag string) (perfResult, error) {
	var res perfResult
	for attempt := range 2 {
		o := dnsperfOptions{
			server:      b.servers[c].addr(),
			input:       b.path("queries", s.id+".txt"),
			duration:    b.opts.Duration,
			clients:     b.opts.Clients,
			outstanding: b.opts.Outstanding,
			cpus:        dnsperfCPU,
			output:      b.path("throughput", fmt.Sprintf("%s-%s-%s.txt", s.id, c, tag)),
		}
		b.meter.reset()
		before, _ := procCPU(b.servers[c].pid)
		cores := newCoreMeter(serverCPU, dnsperfCPU)
		var err error
		res, err = runDNSPerf(ctx, o, b.meter)
		if err != nil {
			return res, err
		}
		busy := cores.read()
		res.ServerCore, res.ClientCore = busy[0], busy[1]
		after, _ := procCPU(b.servers[c].pid)
		if res.RunTime > 0 {
			res.ServerCPU = (after - before).Seconds() / res.RunTime
		}
		if err := keepSummary(o.output); err != nil {
			return res, err
		}
		if res.CPU.Foreign <= b.opts.MaxForeign || attempt == 1 {
			break
		}
		log.Printf("  %s %s: other processes used %.2f cores during the run; repeating it", s.id, c, res.CPU.Foreign)
		b.waitQuiet(ctx, "repeat "+s.id+" "+string(c))
	}
	return res, ctx.Err()
}

// keepSummary drops the per-query lines of a dnsperf -v output file (tens of MB per
// run) once parsed, keeping the report.
func keepSummary(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	var keep strings.Builder
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), "> ") {
			keep.WriteString(sc.Text())
			keep.WriteByte('\n')
		}
	}
	f.Close()
	if err := sc.Err(); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(keep.String()), 0o644)
}

// setupQueryServers starts the control plane, creates the objects, builds the zone
// file by AXFR from the multicluster plugin, and starts the contenders pinned
// to the server core.
func (b *bench) setupQueryServers(ctx context.Context) error {
	if len(b.servers) == 4 {
		return nil
	}
	if err := b.startPlane(ctx, "plane-queries"); err != nil {
		return err
	}
	objs := throughputObjects()
	start := time.Now()
	if err := b.cl.create(ctx, objs, 16); err != nil {
		return err
	}
	log.Printf("created %d ServiceImports in %s", len(objs), time.Since(start).Round(time.Millisecond))

	ports, err := freePorts(15)
	if err != nil {
		return err
	}
	// The zone file: AXFR from a multicluster instance with the transfer plugin.
	xfr, err := startServer(ctx, serverOptions{bin: b.bin, dir: b.dir("coredns-axfr"), waitDNS: true,
		corefile: corefileOptions{kind: ours, port: ports[12], readyPort: ports[13], kubeconfig: b.kubeconfig, transfer: true}})
	if err != nil {
		return err
	}
	b.zoneFile = b.path("clusterset.local.zone")
	err = waitFor(ctx, 60*time.Second, xfr.ready)
	if err == nil {
		err = axfr(xfr.addr(), "clusterset.local.", b.zoneFile)
	}
	xfr.stop()
	if err != nil {
		return fmt.Errorf("zone transfer: %w", err)
	}
	small := b.path("clusterset.local.small.zone")
	if err := smallZone(b.zoneFile, small, vipSvc.fqdn()); err != nil {
		return err
	}

	for i, c := range contendersFor("csip-a") {
		zone := b.zoneFile
		if c == fileSmall {
			zone = small
		}
		s, err := startServer(ctx, serverOptions{
			bin: b.bin, dir: b.dir("coredns-" + string(c)), cpus: serverCPU, gomaxprocs: 1, waitDNS: true,
			corefile: corefileOptions{kind: c, port: ports[3*i], readyPort: ports[3*i+1], pprofPort: ports[3*i+2],
				kubeconfig: b.kubeconfig, zoneFile: zone},
		})
		if err != nil {
			return err
		}
		b.servers[c] = s
	}
	for _, c := range contendersFor("csip-a") {
		if err := waitFor(ctx, 60*time.Second, b.servers[c].ready); err != nil {
			return fmt.Errorf("%s not ready: %w", c, err)
		}
	}
	log.Printf("contenders ready: %s", b.describeServers())
	return nil
}

func (b *bench) describeServers() string {
	var parts []string
	for _, c := range contendersFor("csip-a") {
		if s := b.servers[c]; s != nil {
			parts = append(parts, fmt.Sprintf("%s on %s (pid %d)", c, s.addr(), s.pid))
		}
	}
	return strings.Join(parts, ", ")
}

// waitFor polls cond every 20 ms.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// axfr transfers zone from addr into a zone file (one record per line, the closing
// SOA left out).
func axfr(addr, zone, path string) error {
	m := new(dns.Msg)
	m.SetAxfr(zone)
	t := &dns.Transfer{}
	env, err := t.In(m, addr)
	if err != nil {
		return err
	}
	var b strings.Builder
	n := 0
	for e := range env {
		if e.Error != nil {
			return e.Error
		}
		for _, rr := range e.RR {
			if _, ok := rr.(*dns.SOA); ok && n > 0 {
				continue
			}
			b.WriteString(rr.String())
			b.WriteByte('\n')
			n++
		}
	}
	if n < 2 {
		return fmt.Errorf("transfer returned %d records", n)
	}
	log.Printf("zone file %s: %d records", path, n)
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// smallZone writes the records of the zone file from whose owner is the apex, or is or
// ends in service (an FQDN), to to.
func smallZone(from, to, service string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	var b strings.Builder
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		owner, _, _ := strings.Cut(line, "\t")
		if owner == "clusterset.local." || owner == "dns-version.clusterset.local." || owner == service || strings.HasSuffix(owner, "."+service) {
			b.WriteString(line)
			b.WriteByte('\n')
			n++
		}
	}
	if n < 4 {
		return fmt.Errorf("%s: only %d records for %s", from, n, service)
	}
	log.Printf("small zone file %s: %d records", to, n)
	return os.WriteFile(to, []byte(b.String()), 0o644)
}

// profiles takes CPU profiles under load, for the explanations in BENCHMARKS.md:
// always the plugin against the file plugin on ClusterSetIP A (the ceiling goal) and
// against the in-tree option on headless A with 100 endpoints (the 1.5× goal), and
// both API-backed contenders on every set where the plugin is not ahead.
func (b *bench) profiles(ctx context.Context, sets []querySet) error {
	b.res.Profiles = nil
	for i, s := range sets {
		r := b.res.Throughput[i]
		var who []contender
		switch s.id {
		case "csip-a":
			who = []contender{ours, fileZone}
		case "hl100-a":
			who = []contender{ours, inTree}
		}
		if medianQPS(r.Runs[ours]) < medianQPS(r.Runs[inTree]) {
			for _, c := range []contender{ours, inTree} {
				if !slices.Contains(who, c) {
					who = append(who, c)
				}
			}
		}
		for _, w := range who {
			p, err := b.profileUnderLoad(ctx, s, w)
			if err != nil {
				return err
			}
			b.res.Profiles = append(b.res.Profiles, p)
		}
	}
	return nil
}

func (b *bench) profileUnderLoad(ctx context.Context, s querySet, c contender) (profile, error) {
	secs := time.Duration(b.opts.ProfileSecs) * time.Second
	o := dnsperfOptions{
		server: b.servers[c].addr(), input: b.path("queries", s.id+".txt"), duration: secs + 3*time.Second,
		clients: b.opts.Clients, outstanding: b.opts.Outstanding, cpus: dnsperfCPU,
		output: b.path("profiles", fmt.Sprintf("%s-%s.dnsperf.txt", s.id, c)),
	}
	cmd, err := startDNSPerf(o)
	if err != nil {
		return profile{}, err
	}
	time.Sleep(time.Second)
	path := b.path("profiles", fmt.Sprintf("%s-%s.pb.gz", s.id, c))
	perr := b.servers[c].cpuProfile(ctx, secs, path)
	werr := cmd.Wait()
	res, err := finishDNSPerf(o, cmd, werr, nil)
	_ = keepSummary(o.output)
	if err := errors.Join(perr, err); err != nil {
		return profile{}, err
	}
	top, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=25", b.bin, path).CombinedOutput()
	if err != nil {
		return profile{}, fmt.Errorf("go tool pprof: %v\n%s", err, top)
	}
	txt := filepath.Join(filepath.Dir(path), fmt.Sprintf("%s-%s.top.txt", s.id, c))
	_ = os.WriteFile(txt, top, 0o644)
	cum, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-cum", "-nodecount=400", b.bin, path).CombinedOutput()
	if err != nil {
		return profile{}, fmt.Errorf("go tool pprof: %v\n%s", err, cum)
	}
	_ = os.WriteFile(strings.TrimSuffix(txt, ".top.txt")+".cum.txt", cum, 0o644)
	sum := summarise(string(cum), c)
	log.Printf("profiled %s under %s load (%.0f qps): %s; %s", c, s.id, res.QPS, txt, sum)
	return profile{Set: s.id, Contender: c, Path: path, Top: string(top), QPS: res.QPS, Summary: sum}, nil
}

// handlerPrefix is the package of a contender's serving plugin in profiles.
var handlerPrefix = map[contender]string{
	fileZone:  "github.com/coredns/coredns/plugin/file.",
	fileSmall: "github.com/coredns/coredns/plugin/file.",
	inTree:    "github.com/coredns/coredns/plugin/kubernetes.",
	ours:      "github.com/mcs-dns/multicluster.",
}

// cumShare returns the cumulative share (percent) of the first function in `go tool
// pprof -top -cum` output that match selects.
func cumShare(cum string, match func(fn string) bool) float64 {
	for _, line := range strings.Split(cum, "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || !strings.HasSuffix(f[4], "%") {
			continue
		}
		if match(strings.Join(f[5:], " ")) {
			v, _ := strconv.ParseFloat(strings.TrimSuffix(f[4], "%"), 64)
			return v
		}
	}
	return 0
}

// summarise splits a CPU profile into the serving plugin's own work (its ServeDNS
// minus writing the reply), writing the reply, goroutine stack growth and GC.
func summarise(cum string, c contender) string {
	handler := cumShare(cum, func(fn string) bool {
		return strings.HasPrefix(fn, handlerPrefix[c]) && strings.HasSuffix(fn, ".ServeDNS")
	})
	write := cumShare(cum, func(fn string) bool { return fn == "github.com/coredns/coredns/plugin.(*pluginWriter).WriteMsg" })
	stack := cumShare(cum, func(fn string) bool { return fn == "runtime.newstack" })
	gc := cumShare(cum, func(fn string) bool { return fn == "runtime.gcBgMarkWorker" })
	read := cumShare(cum, func(fn string) bool { return fn == "github.com/miekg/dns.(*Server).serveUDP" })
	return fmt.Sprintf("plugin lookup and answer building %.0f%%, writing the reply %.0f%%, reading queries %.0f%%, goroutine stack growth %.0f%%, GC %.0f%% of CPU",
		handler-write, write, read, stack, gc)
}
