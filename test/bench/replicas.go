package main

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// The replicas phase measures what each CoreDNS replica costs the API server. In a
// cluster, every replica runs its own watches on the cluster's API server (horizontal
// scale is more replicas on the API server's watch cache; nothing is shared between
// replicas), so the cost that matters is the API server's CPU and memory per replica:
// idle, and while ServiceImports change at a fixed rate.

// replicaPoint is the API server's cost with a number of replicas watching it.
type replicaPoint struct {
	Replicas int `json:"replicas"`
	// SyncSecs is how long the newest replica took to answer the last service.
	SyncSecs float64 `json:"syncSeconds"`
	// APIServerRSS and EtcdRSS are read once every replica has synced and is idle.
	APIServerRSS int64 `json:"apiserverRSS"`
	EtcdRSS      int64 `json:"etcdRSS"`
	// Idle and churn CPU of kube-apiserver over the windows (seconds of CPU per second).
	APIServerIdle  float64 `json:"apiserverIdleCores"`
	APIServerChurn float64 `json:"apiserverChurnCores"`
	EtcdChurn      float64 `json:"etcdChurnCores"`
	// Changes is the number of ServiceImport updates made in the churn window.
	Changes int `json:"changes"`
}

const (
	replicaImports     = 1000
	maxReplicas        = 4
	replicaWindow      = 20 * time.Second
	replicaChurnPerSec = 20
)

// replicas starts one to maxReplicas CoreDNS replicas, one more at a time, against one
// control plane holding replicaImports services, and measures the API server at each.
func (b *bench) replicas(ctx context.Context) error {
	if err := b.startPlane(ctx, "plane-replicas"); err != nil {
		return err
	}
	defer b.stopPlane()
	b.res.Replicas = nil
	svcs := make([]service, replicaImports)
	for i := range svcs {
		svcs[i] = scaleService(i)
	}
	if err := b.cl.create(ctx, svcs, 32); err != nil {
		return err
	}
	last := svcs[len(svcs)-1]
	var servers []*server
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	probe := new(dns.Msg)
	probe.SetQuestion(last.fqdn(), dns.TypeA)
	dnsc := &dns.Client{Net: "udp", Timeout: 200 * time.Millisecond}
	etcd, apiserver := b.cp.PIDs()

	for n := 1; n <= maxReplicas; n++ {
		ports, err := freePorts(1)
		if err != nil {
			return err
		}
		s, err := startServer(ctx, serverOptions{bin: b.bin, dir: b.dir("replicas", fmt.Sprint(n)),
			corefile: corefileOptions{kind: ours, port: ports[0], kubeconfig: b.kubeconfig}})
		if err != nil {
			return err
		}
		servers = append(servers, s)
		pt := replicaPoint{Replicas: n}
		for deadline := time.Now().Add(2 * time.Minute); ; {
			if r, _, err := dnsc.Exchange(probe, s.addr()); err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0 {
				pt.SyncSecs = time.Since(s.started).Seconds()
				break
			}
			if s.exited() || time.Now().After(deadline) {
				return fmt.Errorf("replica %d does not answer %s: %s", n, last.fqdn(), s.logTail())
			}
			time.Sleep(10 * time.Millisecond)
		}
		pids := []int{apiserver, etcd}
		for _, x := range servers {
			pids = append(pids, x.pid)
		}
		if err := waitIdle(ctx, pids, 90*time.Second); err != nil {
			return err
		}
		if m, err := readMem(apiserver); err == nil {
			pt.APIServerRSS = m.RSS
		}
		if m, err := readMem(etcd); err == nil {
			pt.EtcdRSS = m.RSS
		}
		idle, _, err := cpuOver(ctx, apiserver, etcd, replicaWindow, nil)
		if err != nil {
			return err
		}
		pt.APIServerIdle = idle
		// Churn: ServiceImport VIP changes at a fixed rate, each one fanned out to
		// every replica's watch.
		churn := func(ctx context.Context, i int) error {
			s := svcs[i%len(svcs)]
			if s.headless {
				s = svcs[(i+1)%len(svcs)]
			}
			return b.cl.updateImportIPs(ctx, s.namespace, s.name, []string{addrFrom(netip.MustParseAddr("172.20.0.1"), i)})
		}
		pt.APIServerChurn, pt.EtcdChurn, err = cpuOver(ctx, apiserver, etcd, replicaWindow, func(i int) error {
			pt.Changes++
			return churn(ctx, n*100000+i)
		})
		if err != nil {
			return err
		}
		log.Printf("replicas %d: last service answered after %.2f s; kube-apiserver RSS %.0f MiB, CPU idle %.3f cores, under %d changes/s %.3f cores (etcd %.3f)",
			n, pt.SyncSecs, mib(pt.APIServerRSS), pt.APIServerIdle, replicaChurnPerSec, pt.APIServerChurn, pt.EtcdChurn)
		b.res.Replicas = append(b.res.Replicas, pt)
		b.save()
	}
	return nil
}

// cpuOver measures the CPU kube-apiserver and etcd use over window, in cores, while
// change (when set) is called replicaChurnPerSec times a second.
func cpuOver(ctx context.Context, apiserver, etcd int, window time.Duration, change func(int) error) (float64, float64, error) {
	a0, err := procCPU(apiserver)
	if err != nil {
		return 0, 0, err
	}
	e0, err := procCPU(etcd)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	tick := time.NewTicker(time.Second / replicaChurnPerSec)
	defer tick.Stop()
	for i := 0; time.Since(start) < window; i++ {
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-tick.C:
		}
		if change != nil {
			if err := change(i); err != nil {
				return 0, 0, err
			}
		}
	}
	elapsed := time.Since(start)
	a1, err := procCPU(apiserver)
	if err != nil {
		return 0, 0, err
	}
	e1, err := procCPU(etcd)
	if err != nil {
		return 0, 0, err
	}
	return float64(a1-a0) / float64(elapsed), float64(e1-e0) / float64(elapsed), nil
}

// replicaReport renders the replicas table and the cost per replica (the slope from
// one replica to the most measured).
func replicaReport(pts []replicaPoint) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Replicas\n\n%d ServiceImports (the scale phase's services); one to %d CoreDNS replicas with only this plugin, each with its own watches on one kube-apiserver; the API server's RSS once all are synced and idle, its CPU over %s idle and over %s of %d ServiceImport changes a second.\n\n",
		replicaImports, maxReplicas, replicaWindow, replicaWindow, replicaChurnPerSec)
	b.WriteString("| replicas | newest replica answers after | kube-apiserver RSS | etcd RSS | kube-apiserver CPU idle | kube-apiserver CPU under churn | etcd CPU under churn |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range pts {
		fmt.Fprintf(&b, "| %d | %.2f s | %.0f MiB | %.0f MiB | %.3f cores | %.3f cores | %.3f cores |\n",
			p.Replicas, p.SyncSecs, mib(p.APIServerRSS), mib(p.EtcdRSS), p.APIServerIdle, p.APIServerChurn, p.EtcdChurn)
	}
	if n := len(pts); n > 1 {
		first, last := pts[0], pts[n-1]
		k := float64(last.Replicas - first.Replicas)
		fmt.Fprintf(&b, "\nPer additional replica (slope from %d to %d): kube-apiserver RSS %+.1f MiB, CPU under churn %+.4f cores (%+.2f ms of API-server CPU per change per replica).\n",
			first.Replicas, last.Replicas, mib(last.APIServerRSS-first.APIServerRSS)/k,
			(last.APIServerChurn-first.APIServerChurn)/k, 1000*(last.APIServerChurn-first.APIServerChurn)/k/replicaChurnPerSec)
	}
	return b.String() + "\n"
}
