package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"

	"github.com/mcs-dns/multicluster/test/clusterset"
	"github.com/mcs-dns/multicluster/test/controlplane"
)

// TestRealClusterSet runs the plugin on a ClusterSet whose objects real controllers write:
// two clusters (east IPv4, west dual-stack), each with kube-controller-manager (EndpointSlices
// from Pods), the mcs-api servicecontroller (derived Services, spec.ips) and its own
// bin/coredns running as deploy/rbac.yaml's ServiceAccount with its cluster id; the exporter
// turns ServiceExports into ServiceImports and copies of the slices. The test writes only
// what users and kubelets write (Services, ServiceExports, Pods and their status) and digs
// both clusters' CoreDNS after every change, timing each from the API write to the answer.
func TestRealClusterSet(t *testing.T) {
	if skipReason != "" {
		t.Skip(skipReason)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	var exporterLog strings.Builder
	var logMu sync.Mutex
	logf := func(format string, args ...any) {
		logMu.Lock()
		fmt.Fprintf(&exporterLog, time.Now().Format("15:04:05.000 ")+format+"\n", args...)
		logMu.Unlock()
	}
	begin := time.Now()
	cs, err := clusterset.Start(ctx, clusterset.Options{Logf: logf})
	if errors.Is(err, controlplane.ErrBinaryNotFound) && !required() {
		t.Skipf("skipping: %v (run hack/ensure-tools.sh; set MCS_E2E_REQUIRED=1 to make this a failure)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logMu.Lock()
			t.Logf("exporter log:\n%s", exporterLog.String())
			logMu.Unlock()
			for _, c := range cs.Clusters {
				t.Logf("cluster %s: work dir %s; CoreDNS log:\n%s", c.Name, c.Dir, c.DNS.LogTail(40))
			}
		}
		if err := cs.Stop(); err != nil {
			t.Errorf("stopping the ClusterSet: %v", err)
		}
	})
	t.Logf("ClusterSet of %d clusters ready in %s", len(cs.Clusters), time.Since(begin).Round(time.Millisecond))
	east, west := cs.Cluster("east"), cs.Cluster("west")
	both := cs.Clusters
	lat := &latencies{}

	const ns = "shop"
	web := clusterset.Set{Namespace: ns, App: "web"}
	db := clusterset.Set{Namespace: ns, App: "db", Stateful: true, Service: "db"}
	dual := clusterset.Set{Namespace: ns, App: "dual"}
	for _, c := range both {
		if err := c.Namespace(ctx, ns); err != nil {
			t.Fatal(err)
		}
		for _, s := range []clusterset.Set{web, db} {
			if _, err := c.Scale(ctx, s, 2); err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range []clusterset.ServiceSpec{
			{Namespace: ns, Name: "web", Selector: web, Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80}}},
			{Namespace: ns, Name: "db", Selector: db, Headless: true, Ports: []corev1.ServicePort{{Name: "pg", Protocol: corev1.ProtocolTCP, Port: 5432}}},
		} {
			if _, err := c.CreateService(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := west.Scale(ctx, dual, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := west.CreateService(ctx, clusterset.ServiceSpec{Namespace: ns, Name: "dual", Selector: dual, DualStack: true,
		Ports: []corev1.ServicePort{{Name: "grpc", Protocol: corev1.ProtocolTCP, Port: 9090}}}); err != nil {
		t.Fatal(err)
	}

	dbName := fq("", "db", ns)
	// dbAnswer is the check of db's A answer in both clusters: the given ready pods.
	dbAnswer := func(pods []readyPod) []check {
		return forBoth(both, dbName, "A", same(addressAnswer(podIPs(pods), false)))
	}
	// dbNow is dbAnswer of the pods the API says are ready.
	dbNow := func() []check { return dbAnswer(readyPods(t, ctx, both, ns, "db")) }
	exportIn := func(cs []*clusterset.Cluster, svc string) func() error {
		return func() error {
			for _, c := range cs {
				if err := c.Export(ctx, ns, svc); err != nil {
					return err
				}
			}
			return nil
		}
	}
	derived := func(svc string, v6 bool) func(*clusterset.Cluster) want {
		return func(c *clusterset.Cluster) want { return derivedAnswer(t, ctx, c, ns, svc, v6) }
	}

	// Export: the headless service answers every ready pod of both clusters, by name too.
	pods := readyPods(t, ctx, both, ns, "db")
	lat.change(t, "export db in both clusters", exportIn(both, "db"), func() []check {
		return append(dbAnswer(pods), forBoth(both, fq("_pg._tcp", "db", ns), "SRV", same(headlessSRV(pods, 5432, "db", ns)))...)
	})
	lat.change(t, "per-endpoint names", nil, func() []check {
		var checks []check
		for _, p := range pods {
			checks = append(checks, forBoth(both, fq(p.hostname+"."+p.cluster, "db", ns), "A", same(addressAnswer(p.ips, false)))...)
		}
		return checks
	})

	// ClusterSetIP: each cluster answers the ClusterIPs of its own derived Service.
	lat.change(t, "export web in both clusters", exportIn(both, "web"), func() []check {
		return forBoth(both, fq("", "web", ns), "A", derived("web", false))
	})
	lat.change(t, "export dual (west only)", exportIn([]*clusterset.Cluster{west}, "dual"), func() []check {
		return forBoth(both, fq("", "dual", ns), "A", derived("dual", false))
	})
	for _, c := range both {
		for _, svc := range []string{"web", "dual"} {
			ips := derivedIPs(t, ctx, c, ns, svc)
			si, err := c.Import(ctx, ns, svc)
			if err != nil || si == nil {
				t.Fatalf("cluster %s: ServiceImport %s: %v", c.Name, svc, err)
			}
			if !slices.Equal(si.Spec.IPs, ips) {
				t.Errorf("cluster %s: ServiceImport %s spec.ips %v, derived Service ClusterIPs %v", c.Name, svc, si.Spec.IPs, ips)
			}
			t.Logf("cluster %s: %s: ServiceImport ipFamilies %v, spec.ips %v = the derived Service's ClusterIPs", c.Name, svc, si.Spec.IPFamilies, si.Spec.IPs)
		}
	}
	lat.change(t, "AAAA and SRV of the ClusterSetIP services", nil, func() []check {
		return slices.Concat(
			forBoth(both, fq("", "dual", ns), "AAAA", derived("dual", true)),
			forBoth(both, fq("", "web", ns), "AAAA", derived("web", true)),
			forBoth(both, fq("_http._tcp", "web", ns), "SRV", same(want{answer: []string{srvData(80, fq("", "web", ns))}})))
	})
	logSlices(t, ctx, east, west, ns, "db")

	// A pod turned not ready leaves the answers, and comes back.
	lat.change(t, "east db-1 not ready", func() error { return east.SetPodReady(ctx, ns, "db-1", false) }, func() []check {
		return append(dbAnswer(readyPodsAfter(t, ctx, both, ns, "db", "east", "db-1")),
			forBoth(both, fq("db-1.east", "db", ns), "A", same(want{rcode: "NXDOMAIN"}))...)
	})
	lat.change(t, "east db-1 ready again", func() error { return east.SetPodReady(ctx, ns, "db-1", true) },
		func() []check { return dbAnswer(pods) })

	// A terminating pod (deleted, its grace period running) leaves the answers.
	lat.change(t, "east db-1 terminating", func() error { return east.TerminatePod(ctx, ns, "db-1") },
		func() []check { return dbAnswer(readyPodsAfter(t, ctx, both, ns, "db", "east", "db-1")) })
	lat.change(t, "east db-1 replaced", func() error {
		if err := east.RemovePod(ctx, ns, "db-1"); err != nil {
			return err
		}
		_, err := east.Scale(ctx, db, 2)
		return err
	}, dbNow)
	pods = readyPods(t, ctx, both, ns, "db")

	// A Service's port renamed: the slices' ports follow, and the SRV names with them.
	lat.change(t, "db's port renamed pg -> sql in both clusters", func() error {
		for _, c := range both {
			if err := c.UpdateService(ctx, ns, "db", func(s *corev1.Service) { s.Spec.Ports[0].Name = "sql" }); err != nil {
				return err
			}
		}
		return nil
	}, func() []check {
		return append(forBoth(both, fq("_sql._tcp", "db", ns), "SRV", same(headlessSRV(pods, 5432, "db", ns))),
			forBoth(both, fq("_pg._tcp", "db", ns), "SRV", same(want{rcode: "NXDOMAIN"}))...)
	})

	// Past 100 endpoints the EndpointSlice controller writes several slices; all are copied.
	lat.change(t, "east db scaled to 120", func() error { _, err := east.Scale(ctx, db, 120); return err },
		func() []check { return dbAnswerOf(t, ctx, both, ns, 120+2) })
	slicesOf(t, ctx, east, ns, "db", func(local, imported int) bool { return local >= 2 && imported >= 2 })
	slicesOf(t, ctx, west, ns, "db", func(local, imported int) bool { return imported >= 2 })
	lat.change(t, "east db scaled back to 2", func() error { _, err := east.Scale(ctx, db, 2); return err },
		func() []check { return dbAnswer(pods) })

	// One API server stopped: the other cluster keeps answering and following changes; the
	// stopped cluster's CoreDNS keeps serving what it had.
	if err := east.CP.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	t.Log("east's kube-apiserver stopped")
	afterWest := slices.DeleteFunc(slices.Clone(pods), func(p readyPod) bool { return p.cluster == "west" && p.name == "db-1" })
	lat.change(t, "west db-1 not ready while east's API server is down", func() error { return west.SetPodReady(ctx, ns, "db-1", false) },
		func() []check {
			return []check{
				{c: west, name: dbName, qtype: "A", want: addressAnswer(podIPs(afterWest), false)},
				{c: west, name: fq("", "web", ns), qtype: "A", want: derivedAnswer(t, ctx, west, ns, "web", false)},
			}
		})
	for _, ck := range dbAnswer(pods) {
		if ck.c == east {
			expect(t, east.DNS.Port, ck.name, ck.qtype, ck.want)
		}
	}
	lat.change(t, "east's API server back", func() error { return east.CP.StartAPIServer(ctx) }, func() []check {
		return []check{{c: east, name: dbName, qtype: "A", want: addressAnswer(podIPs(afterWest), false)}}
	})
	lat.change(t, "west db-1 ready again", func() error { return west.SetPodReady(ctx, ns, "db-1", true) },
		func() []check { return dbAnswer(pods) })

	// Locality: PreferClose on the exported Services; each CoreDNS narrows to its cluster.
	lat.change(t, "db trafficDistribution PreferClose in both clusters", func() error {
		for _, c := range both {
			if err := c.UpdateService(ctx, ns, "db", func(s *corev1.Service) {
				td := corev1.ServiceTrafficDistributionPreferClose
				s.Spec.TrafficDistribution = &td
			}); err != nil {
				return err
			}
		}
		return nil
	}, func() []check {
		return forBoth(both, dbName, "A", func(c *clusterset.Cluster) want { return addressAnswer(podIPs(pods, c.Name), false) })
	})
	for _, c := range both {
		si, err := c.Import(ctx, ns, "db")
		if err != nil || si == nil || si.Spec.TrafficDistribution == nil {
			t.Fatalf("cluster %s: ServiceImport db has no trafficDistribution: %v %v", c.Name, si, err)
		}
	}

	// Unexport: NXDOMAIN in both clusters.
	lat.change(t, "unexport dual (west)", func() error { return west.Unexport(ctx, ns, "dual") }, func() []check {
		return forBoth(both, fq("", "dual", ns), "A", same(want{rcode: "NXDOMAIN"}))
	})
	lat.change(t, "unexport web and db in both clusters", func() error {
		for _, c := range both {
			for _, svc := range []string{"web", "db"} {
				if err := c.Unexport(ctx, ns, svc); err != nil {
					return err
				}
			}
		}
		return nil
	}, func() []check {
		return append(forBoth(both, fq("", "web", ns), "A", same(want{rcode: "NXDOMAIN"})),
			forBoth(both, dbName, "A", same(want{rcode: "NXDOMAIN"}))...)
	})

	t.Logf("API write to answer, %d answers over both clusters: p50 %s, p99 %s, max %s", len(lat.all),
		percentile(lat.all, 50).Round(time.Millisecond), percentile(lat.all, 99).Round(time.Millisecond),
		percentile(lat.all, 100).Round(time.Millisecond))
	if err := cs.ExporterErr(); err != nil {
		t.Errorf("exporter: %v", err)
	}
}

// derivedIPs waits until the servicecontroller of c has made the derived Service of ns/name and
// returns its ClusterIPs.
func derivedIPs(t *testing.T, ctx context.Context, c *clusterset.Cluster, ns, name string) []string {
	t.Helper()
	var ips []string
	waitFor(t, fmt.Sprintf("cluster %s: derived Service of %s/%s", c.Name, ns, name), changeTimeout, func() (bool, string) {
		svc, err := c.DerivedService(ctx, ns, name)
		if err != nil || svc == nil {
			return false, fmt.Sprint(err)
		}
		ips = svc.Spec.ClusterIPs
		return len(ips) > 0, "no ClusterIPs"
	})
	return ips
}

// derivedAnswer is the A (or AAAA) answer of a ClusterSetIP service in c: the ClusterIPs of
// c's derived Service in that family; NODATA when it has none of the family.
func derivedAnswer(t *testing.T, ctx context.Context, c *clusterset.Cluster, ns, name string, v6 bool) want {
	w := addressAnswer(derivedIPs(t, ctx, c, ns, name), v6)
	w.rcode = ""
	return w
}

// readyPodsAfter is readyPods without cluster's pod name: what the answer must become.
func readyPodsAfter(t *testing.T, ctx context.Context, cs []*clusterset.Cluster, ns, app, cluster, name string) []readyPod {
	return slices.DeleteFunc(readyPods(t, ctx, cs, ns, app), func(p readyPod) bool { return p.cluster == cluster && p.name == name })
}

// dbAnswerOf waits until n db pods are ready in the API, then returns the check of the
// service's A answer in both clusters.
func dbAnswerOf(t *testing.T, ctx context.Context, cs []*clusterset.Cluster, ns string, n int) []check {
	var pods []readyPod
	waitFor(t, "ready db pods", changeTimeout, func() (bool, string) {
		pods = readyPods(t, ctx, cs, ns, "db")
		return len(pods) == n, fmt.Sprintf("%d ready", len(pods))
	})
	return forBoth(cs, fq("", "db", ns), "A", same(addressAnswer(podIPs(pods), false)))
}

// slicesOf counts the EndpointSlices of service ns/name in c that its EndpointSlice
// controller wrote (local) and the exporter's copies (imported), until ok accepts them.
func slicesOf(t *testing.T, ctx context.Context, c *clusterset.Cluster, ns, name string, ok func(local, imported int) bool) {
	t.Helper()
	waitFor(t, fmt.Sprintf("cluster %s: slices of %s/%s", c.Name, ns, name), changeTimeout, func() (bool, string) {
		local, err := c.Clients.Kube.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discovery.LabelServiceName + "=" + name})
		if err != nil {
			return false, err.Error()
		}
		imported, err := c.Clients.Kube.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: mcsv1beta1.LabelServiceName + "=" + name})
		if err != nil {
			return false, err.Error()
		}
		detail := fmt.Sprintf("%d written by kube-controller-manager, %d imported", len(local.Items), len(imported.Items))
		if ok(len(local.Items), len(imported.Items)) {
			t.Logf("cluster %s: %s/%s: %s", c.Name, ns, name, detail)
			return true, ""
		}
		return false, detail
	})
}

// logSlices logs one slice of service ns/name as kube-controller-manager wrote it in from and
// its copy in to: what the plugin reads.
func logSlices(t *testing.T, ctx context.Context, from, to *clusterset.Cluster, ns, name string) {
	t.Helper()
	for _, side := range []struct {
		c     *clusterset.Cluster
		label string
	}{{from, discovery.LabelServiceName + "=" + name}, {to, mcsv1beta1.LabelServiceName + "=" + name + "," + mcsv1beta1.LabelSourceCluster + "=" + from.Name}} {
		list, err := side.c.Clients.Kube.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: side.label})
		if err != nil || len(list.Items) == 0 {
			t.Logf("cluster %s: no slice %s (%v)", side.c.Name, side.label, err)
			continue
		}
		es := list.Items[0]
		var eps []string
		for _, e := range es.Endpoints {
			eps = append(eps, fmt.Sprintf("{addresses %v hostname %v nodeName %v zone %v ready %v serving %v terminating %v targetRef %v}",
				e.Addresses, deref(e.Hostname), deref(e.NodeName), deref(e.Zone), deref(e.Conditions.Ready), deref(e.Conditions.Serving),
				deref(e.Conditions.Terminating), e.TargetRef != nil))
		}
		t.Logf("cluster %s: slice %s: labels %v, ownerReferences %d, addressType %s, ports %d, endpoints %s",
			side.c.Name, es.Name, es.Labels, len(es.OwnerReferences), es.AddressType, len(es.Ports), strings.Join(eps, " "))
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return "<nil>"
	}
	return *p
}
