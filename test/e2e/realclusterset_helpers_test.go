package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcs-dns/multicluster/test/clusterset"
	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// Helpers of TestRealClusterSet: what the API says the answers must be, and timed waits for
// them in every cluster's CoreDNS.

// check is one question to one cluster's CoreDNS and the answer it must come to.
type check struct {
	c           *clusterset.Cluster
	name, qtype string
	want        want
}

// latencies collects, for every change, the time from the API write to the matching answer in
// each cluster's CoreDNS.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, d)
	l.mu.Unlock()
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100).
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(p/100*float64(len(s))+0.999999) - 1
	return s[max(0, min(rank, len(s)-1))]
}

// changeTimeout bounds how long a change may take to show in an answer. The controllers react
// in milliseconds; the bound only guards against a hung run (a restarted API server's clients
// back off for seconds).
const changeTimeout = 30 * time.Second

// change makes one write through write, then waits until every check holds, all at once, and
// records each one's time from just before the write to its first matching answer. The checks
// are made after the write: some answers follow from what controllers write in response (a
// derived Service's ClusterIPs).
func (l *latencies) change(t *testing.T, what string, write func() error, makeChecks func() []check) {
	t.Helper()
	begin := time.Now()
	if write != nil {
		if err := write(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	checks := makeChecks()
	took := make([]time.Duration, len(checks))
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, ck := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = await(ck, begin.Add(changeTimeout))
			took[i] = time.Since(begin)
		}()
	}
	wg.Wait()
	var parts []string
	for i, ck := range checks {
		if errs[i] != nil {
			t.Fatalf("%s: %v", what, errs[i])
		}
		if write != nil {
			l.add(took[i])
		}
		parts = append(parts, fmt.Sprintf("%s %s %s %s", ck.c.Name, ck.name, ck.qtype, took[i].Round(time.Millisecond)))
	}
	t.Logf("%s: %s", what, strings.Join(parts, ", "))
}

// await digs ck every 20 ms until the answer matches, or fails at deadline with the last
// answer.
func await(ck check, deadline time.Time) error {
	var last string
	for {
		r, err := harness.Query(ck.c.DNS.Port, ck.name, ck.qtype)
		if err == nil {
			errs := verify(r, dns.Fqdn(ck.name), ck.want)
			if len(errs) == 0 {
				return nil
			}
			last = strings.Join(errs, "; ") + "\n" + r.Raw
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster %s: dig %s %s: not %v after %s; last: %s", ck.c.Name, ck.name, ck.qtype, ck.want, changeTimeout, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readyPod is a pod the EndpointSlice controller publishes as ready: Running, Ready, not
// terminating, with addresses.
type readyPod struct {
	cluster, name, hostname string
	ips                     []string
}

// readyPods lists, from the API, the ready pods of app in namespace ns of every cluster.
func readyPods(t *testing.T, ctx context.Context, cs []*clusterset.Cluster, ns, app string) []readyPod {
	t.Helper()
	var out []readyPod
	for _, c := range cs {
		pods, err := c.Clients.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			t.Fatalf("cluster %s: listing pods: %v", c.Name, err)
		}
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || !clusterset.PodReady(&p) {
				continue
			}
			rp := readyPod{cluster: c.Name, name: p.Name, hostname: p.Spec.Hostname}
			for _, ip := range p.Status.PodIPs {
				rp.ips = append(rp.ips, ip.IP)
			}
			out = append(out, rp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].cluster+"/"+out[i].name < out[j].cluster+"/"+out[j].name })
	return out
}

// addressAnswer is the A (v6: AAAA) answer of a set of addresses: the records of the family,
// NOERROR; NXDOMAIN when there are none at all (headless, spec R5).
func addressAnswer(ips []string, v6 bool) want {
	var w want
	for _, ip := range ips {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			continue
		}
		switch {
		case a.Is4() && !v6:
			w.answer = append(w.answer, "A "+a.String())
		case a.Is6() && v6:
			w.answer = append(w.answer, "AAAA "+a.String())
		}
	}
	if len(ips) == 0 {
		w.rcode = "NXDOMAIN"
	}
	return w
}

// podIPs are the addresses of pods, of clusters named in only (all when empty).
func podIPs(pods []readyPod, only ...string) []string {
	var ips []string
	for _, p := range pods {
		if len(only) == 0 || slices.Contains(only, p.cluster) {
			ips = append(ips, p.ips...)
		}
	}
	return ips
}

// headlessSRV is the SRV answer of a headless service's named port: one record per ready
// endpoint, targeting its per-endpoint name (spec R7).
func headlessSRV(pods []readyPod, port int, svc, ns string) want {
	var w want
	for _, p := range pods {
		w.answer = append(w.answer, srvData(port, fq(p.hostname+"."+p.cluster, svc, ns)))
	}
	if len(w.answer) == 0 {
		w.rcode = "NXDOMAIN"
	}
	return w
}

// forBoth returns the check of name/qtype in every cluster with the answer each must give.
func forBoth(cs []*clusterset.Cluster, name, qtype string, w func(c *clusterset.Cluster) want) []check {
	var out []check
	for _, c := range cs {
		out = append(out, check{c: c, name: name, qtype: qtype, want: w(c)})
	}
	return out
}

// same is a want for every cluster.
func same(w want) func(*clusterset.Cluster) want { return func(*clusterset.Cluster) want { return w } }

// waitFor polls cond every 50 ms until it holds, failing after timeout.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s: %s", what, timeout, detail)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
