// Command bench measures the multicluster plugin side by side with CoreDNS's own
// ceiling (the file plugin serving the same records) and with the kubernetes plugin's
// multicluster option, all in bin/coredns against one real etcd + kube-apiserver:
//
//   - throughput and latency with dnsperf, per query set, in alternating runs;
//   - scale: memory, time to ready, relists and API write to answer under churn, from
//     1,000 to 100,000 ServiceImports and from 100,000 to 3 million endpoints;
//   - freshness: API write to answer, under dnsperf load;
//   - the root package's Go microbenchmarks.
//
// It writes results.json and results.md into -out and, with -update, replaces the
// generated part of BENCHMARKS.md. `make bench` runs it; see BENCHMARKS.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mcs-dns/multicluster/test/controlplane"
)

type options struct {
	Phases      []string      `json:"phases"`
	Duration    time.Duration `json:"duration"`
	Runs        int           `json:"runs"`
	Clients     int           `json:"clients"`
	Outstanding int           `json:"outstanding"`
	Changes     int           `json:"changes"`
	FreshQPS    int           `json:"freshQPS"`
	ScalePoints []int         `json:"scalePoints"`
	// EndpointPoints are the endpoint counts of the "endpoints" scale series, Shape
	// its services' shape.
	EndpointPoints []int         `json:"endpointPoints"`
	Shape          endpointShape `json:"endpointShape"`
	// ChurnRate EndpointSlice updates a second for ChurnSecs at every scale point.
	ChurnRate   int           `json:"churnRate"`
	ChurnSecs   int           `json:"churnSeconds"`
	ProfileSecs int           `json:"profileSeconds"`
	MaxForeign  float64       `json:"maxForeignCPU"`
	MaxWait     time.Duration `json:"maxWait"`
	MicroCount  int           `json:"microCount"`
	Settle      time.Duration `json:"settle"`
	Sets        []string      `json:"sets,omitempty"`
	out         string
	update      string
	from        string

	// HopQPS is the fixed query rate of the hop phase.
	HopQPS int `json:"hopQPS,omitempty"`
}

var allPhases = []string{"throughput", "freshness", "hop", "scale", "micro"}

// optionalPhases run only when named in -phases.
var optionalPhases = []string{"replicas"}

func main() {
	var o options
	var phases, points, endpointPoints, sets string
	flag.StringVar(&phases, "phases", strings.Join(allPhases, ","), "phases to run, in this order: "+strings.Join(allPhases, ",")+" (also: "+strings.Join(optionalPhases, ",")+")")
	flag.DurationVar(&o.Duration, "duration", 8*time.Second, "length of one dnsperf run")
	flag.IntVar(&o.Runs, "runs", 3, "alternating runs per query set and contender (the median is reported)")
	flag.IntVar(&o.Clients, "clients", 4, "dnsperf -c")
	flag.IntVar(&o.Outstanding, "outstanding", 64, "dnsperf -q")
	flag.IntVar(&o.Changes, "changes", 200, "API writes per contender in the freshness benchmark")
	flag.IntVar(&o.FreshQPS, "fresh-qps", 0, "load during the freshness benchmark (default: half of (c)'s median mixed QPS)")
	flag.StringVar(&points, "scale", "1000,10000,100000", "ServiceImport counts of the scale points of the imports series (10 endpoints per import, 5 clusters); \"\" for none")
	flag.StringVar(&endpointPoints, "scale-endpoints", "100000,1000000,3000000", "endpoint counts of the scale points of the endpoints series; \"\" for none")
	flag.IntVar(&o.Shape.Clusters, "scale-clusters", 200, "endpoints series: clusters in the ClusterSet")
	flag.IntVar(&o.Shape.PerService, "scale-clusters-per-service", 20, "endpoints series: clusters exporting each service")
	flag.IntVar(&o.Shape.PerSlice, "scale-slice-endpoints", 50, "endpoints series: endpoints per EndpointSlice (one slice per cluster and service; at most 100, as controllers write them)")
	flag.IntVar(&o.ChurnRate, "churn-rate", 100, "scale: EndpointSlice updates a second while measuring API write to answer at each point")
	flag.IntVar(&o.ChurnSecs, "churn-seconds", 30, "scale: how long the churn lasts at each point (0: no churn)")
	flag.IntVar(&o.ProfileSecs, "profile-seconds", 10, "length of the CPU profiles")
	flag.Float64Var(&o.MaxForeign, "max-foreign-cpu", 0.3, "wait before measuring while other processes use more than this many cores")
	flag.DurationVar(&o.MaxWait, "max-wait", 10*time.Minute, "longest wait for a quiet machine before measuring anyway")
	flag.DurationVar(&o.Settle, "settle", 10*time.Second, "scale: least time between the first GC after syncing and reading the steady RSS")
	flag.IntVar(&o.MicroCount, "micro-count", 5, "go test -count for the microbenchmarks")
	flag.IntVar(&o.HopQPS, "hop-qps", 5000, "hop: the fixed query rate through each configuration (low enough that no configuration saturates its core)")
	flag.StringVar(&sets, "sets", "", "measure only these query sets (comma-separated ids; default all)")
	flag.StringVar(&o.out, "out", "", "results directory (default <repo>/.cache/bench/<time>)")
	flag.StringVar(&o.from, "from", "", "measure nothing: render the results.json of an earlier run (with -update, into the markdown file)")
	flag.StringVar(&o.update, "update", "", "replace the generated section of this markdown file (BENCHMARKS.md) with the results")
	flag.Parse()
	for _, p := range strings.Split(phases, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if !slices.Contains(allPhases, p) && !slices.Contains(optionalPhases, p) {
			log.Fatalf("unknown phase %q (have %s)", p, strings.Join(append(slices.Clone(allPhases), optionalPhases...), ","))
		}
		o.Phases = append(o.Phases, p)
	}
	o.ScalePoints = parsePoints(points, 10)
	o.EndpointPoints = parsePoints(endpointPoints, 1)
	if o.Shape.PerSlice < 1 || o.Shape.PerSlice > 100 || o.Shape.PerService < 1 || o.Shape.PerService > o.Shape.Clusters {
		log.Fatalf("bad endpoints series shape %+v", o.Shape)
	}
	for _, id := range strings.Split(sets, ",") {
		if id = strings.TrimSpace(id); id != "" {
			_ = setByID(id) // panics on unknown ids
			o.Sets = append(o.Sets, id)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		log.Fatalf("bench: %v", err)
	}
}

// parsePoints parses a comma-separated list of sizes, each at least least, sorted.
func parsePoints(list string, least int) []int {
	var out []int
	for _, p := range strings.Split(list, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		var n int
		if _, err := fmt.Sscan(p, &n); err != nil || n < least {
			log.Fatalf("bad scale point %q", p)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func run(ctx context.Context, o options) error {
	root, err := controlplane.RepoRoot()
	if err != nil {
		return err
	}
	if o.from != "" {
		return render(o)
	}
	if o.out == "" {
		o.out = filepath.Join(root, ".cache", "bench", time.Now().Format("20060102-150405"))
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	b := &bench{opts: o, root: root, bin: filepath.Join(root, "bin", "coredns"), servers: map[contender]*server{}}
	b.meter = newCPUMeter(b.pids)
	b.res.Options = o
	b.res.Started = time.Now()
	b.res.Machine = machineInfo(root, b.bin)
	log.SetFlags(log.Ltime)
	log.Printf("results in %s", o.out)
	defer b.cleanup()

	for _, p := range o.Phases {
		start := time.Now()
		log.Printf("=== phase %s", p)
		var err error
		switch p {
		case "throughput":
			err = b.throughput(ctx)
		case "freshness":
			err = b.freshness(ctx)
		case "hop":
			err = b.hop(ctx)
		case "scale":
			b.stopAll()
			err = b.scale(ctx)
		case "micro":
			b.stopAll()
			err = b.micro(ctx)
		case "replicas":
			b.stopAll()
			err = b.replicas(ctx)
		}
		b.res.PhaseSeconds = append(b.res.PhaseSeconds, phaseTime{p, time.Since(start).Seconds()})
		if err != nil {
			b.save()
			return fmt.Errorf("phase %s: %w", p, err)
		}
		b.save()
	}
	b.stopAll()
	b.res.Finished = time.Now()
	b.save()
	return b.write(o.out, o.update)
}

// write renders the results as results.md (and the scale plot) into dir and, when
// update names a markdown file, into its generated section (and the plot beside it).
func (b *bench) write(dir, update string) error {
	md := b.report()
	if dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "results.md"), []byte(md), 0o644); err != nil {
			return err
		}
		log.Printf("wrote %s", filepath.Join(dir, "results.md"))
	}
	var plotDirs []string
	if dir != "" {
		plotDirs = append(plotDirs, dir)
	}
	if update != "" {
		if err := updateMarkdown(update, md); err != nil {
			return err
		}
		log.Printf("updated %s", update)
		plotDirs = append(plotDirs, filepath.Dir(update))
	}
	if len(b.res.Scale) > 0 {
		svg := scalePlot(b.res.Scale)
		for _, d := range plotDirs {
			if err := os.WriteFile(filepath.Join(d, scalePlotFile), []byte(svg), 0o644); err != nil {
				return err
			}
			log.Printf("wrote %s", filepath.Join(d, scalePlotFile))
		}
	}
	return nil
}

// render re-renders an earlier run's results.json.
func render(o options) error {
	data, err := os.ReadFile(o.from)
	if err != nil {
		return err
	}
	b := &bench{}
	if err := json.Unmarshal(data, &b.res); err != nil {
		return fmt.Errorf("%s: %w", o.from, err)
	}
	b.opts = b.res.Options
	if o.update == "" {
		fmt.Print(b.report())
		return nil
	}
	return b.write("", o.update)
}

// bench is the state of one benchmark run.
type bench struct {
	opts  options
	root  string
	bin   string
	meter *cpuMeter

	cp         *controlplane.ControlPlane
	cl         *clients
	kubeconfig string
	servers    map[contender]*server
	zoneFile   string

	res results
	// extraPIDs are processes a phase runs besides the servers (the hop phase's), so
	// that the CPU meter does not count them as other load.
	extraPIDs []int
	// churnSeq numbers the churn's new addresses across all points of a run: a point
	// grows the previous one's ClusterSet, and an address written there before would
	// be answered at once.
	churnSeq atomic.Int64
}

// pids lists our long-running processes, for the CPU meter.
func (b *bench) pids() []int {
	var pids []int
	for _, s := range b.servers {
		if s != nil && !s.exited() {
			pids = append(pids, s.pid)
		}
	}
	if b.cp != nil {
		e, a := b.cp.PIDs()
		pids = append(pids, e, a)
	}
	return append(pids, b.extraPIDs...)
}

// apiserverReadyTimeout bounds the wait for kube-apiserver's readiness: after a
// restart at 100,000 ServiceImports its watch caches take over a minute to fill.
const apiserverReadyTimeout = 10 * time.Minute

// startPlane starts a fresh control plane, lets CoreDNS's identity watch what both
// plugins need, and writes CoreDNS's kubeconfig.
func (b *bench) startPlane(ctx context.Context, name string) error {
	b.stopPlane()
	dir := filepath.Join(b.opts.out, name)
	cp, err := controlplane.Start(ctx, controlplane.Options{WorkDir: dir, ReadyTimeout: apiserverReadyTimeout})
	if err != nil {
		return err
	}
	b.cp = cp
	if b.cl, err = newClients(cp); err != nil {
		return err
	}
	if err := b.cl.grantCoreDNS(ctx); err != nil {
		return err
	}
	b.kubeconfig = filepath.Join(dir, "coredns.kubeconfig")
	return cp.WriteKubeconfig(b.kubeconfig, controlplane.CoreDNS)
}

func (b *bench) stopPlane() {
	if b.cp != nil {
		if err := b.cp.Stop(); err != nil {
			log.Printf("stopping the control plane: %v", err)
		}
		// Keep the logs, drop etcd's data.
		_ = os.RemoveAll(filepath.Join(b.cp.Dir(), "etcd-data"))
		b.cp = nil
	}
}

func (b *bench) stopAll() {
	for k, s := range b.servers {
		s.stop()
		delete(b.servers, k)
	}
}

func (b *bench) cleanup() {
	b.stopAll()
	b.stopPlane()
}

// quietWindow is how long waitQuiet measures the machine's load.
const quietWindow = 3 * time.Second

// waitQuiet waits until processes other than ours use less than MaxForeign cores
// (measured over quietWindow), polling every 30 s for at most MaxWait, and records the
// wait.
func (b *bench) waitQuiet(ctx context.Context, what string) {
	start := time.Now()
	for {
		b.meter.reset()
		select {
		case <-ctx.Done():
			return
		case <-time.After(quietWindow):
		}
		u := b.meter.read()
		waited := time.Since(start)
		if u.Foreign <= b.opts.MaxForeign || waited >= b.opts.MaxWait {
			// The first window is the measurement, not a wait.
			w := loadWait{What: what, Waited: max(0, waited-quietWindow).Round(time.Second).Seconds(), Foreign: u.Foreign, Load1: u.Load1, Quiet: u.Foreign <= b.opts.MaxForeign}
			b.res.LoadWaits = append(b.res.LoadWaits, w)
			if !w.Quiet {
				log.Printf("%s: machine still busy after %s (other processes %.2f cores): measuring anyway", what, waited.Round(time.Second), u.Foreign)
			} else if waited > 10*time.Second {
				log.Printf("%s: waited %s for a quiet machine", what, waited.Round(time.Second))
			}
			return
		}
		log.Printf("%s: other processes use %.2f cores (load %.2f); waiting", what, u.Foreign, u.Load1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(30*time.Second - quietWindow):
		}
	}
}

func (b *bench) save() {
	data, err := json.MarshalIndent(&b.res, "", "  ")
	if err != nil {
		log.Printf("results: %v", err)
		return
	}
	if err := os.WriteFile(filepath.Join(b.opts.out, "results.json"), data, 0o644); err != nil {
		log.Printf("results: %v", err)
	}
}

// dir returns a directory under the results directory (created by startServer).
func (b *bench) dir(elem ...string) string {
	return filepath.Join(append([]string{b.opts.out}, elem...)...)
}

// path returns a file path under the results directory and creates its directory.
func (b *bench) path(elem ...string) string {
	p := filepath.Join(append([]string{b.opts.out}, elem...)...)
	_ = os.MkdirAll(filepath.Dir(p), 0o755)
	return p
}
