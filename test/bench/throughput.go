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

// throughput sets up the control plane, the objects and the three contenders, checks
// their answers with dig and runs dnsperf against each in alternating runs.
func (b *bench) throughput(ctx context.Context) error {
	if err := b.setupQueryServers(ctx); err != nil {
		return err
	}
	sets := querySets()
	b.res.Checks = nil
	for _, set := range sets {
		for _, c := range contenders {
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
	total := b.opts.Runs * len(measured) * len(contenders)
	done := 0
	for round := range b.opts.Runs {
		b.waitQuiet(ctx, fmt.Sprintf("throughput round %d", round+1))
		for i, s := range measured {
			// Alternate: every contender goes first, second and third equally often.
			for k := range contenders {
				c := contenders[(round+i+k)%len(contenders)]
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
// file by AXFR from the multicluster plugin, and starts the three contenders pinned
// to the server core.
func (b *bench) setupQueryServers(ctx context.Context) error {
	if len(b.servers) == 3 {
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

	ports, err := freePorts(12)
	if err != nil {
		return err
	}
	// The zone file: AXFR from a multicluster instance with the transfer plugin.
	xfr, err := startServer(ctx, serverOptions{bin: b.bin, dir: b.path("coredns-axfr", "x"), waitDNS: true,
		corefile: corefileOptions{kind: ours, port: ports[9], readyPort: ports[10], kubeconfig: b.kubeconfig, transfer: true}})
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

	for i, c := range contenders {
		s, err := startServer(ctx, serverOptions{
			bin: b.bin, dir: b.path("coredns-"+string(c), "x"), cpus: serverCPU, gomaxprocs: 1, waitDNS: true,
			corefile: corefileOptions{kind: c, port: ports[3*i], readyPort: ports[3*i+1], pprofPort: ports[3*i+2],
				kubeconfig: b.kubeconfig, zoneFile: b.zoneFile},
		})
		if err != nil {
			return err
		}
		b.servers[c] = s
	}
	for _, c := range contenders {
		if err := waitFor(ctx, 60*time.Second, b.servers[c].ready); err != nil {
			return fmt.Errorf("%s not ready: %w", c, err)
		}
	}
	log.Printf("contenders ready: %s", b.describeServers())
	return nil
}

func (b *bench) describeServers() string {
	var parts []string
	for _, c := range contenders {
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
	log.Printf("profiled %s under %s load (%.0f qps): %s", c, s.id, res.QPS, txt)
	return profile{Set: s.id, Contender: c, Path: path, Top: string(top), QPS: res.QPS}, nil
}
