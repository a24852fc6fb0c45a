// Command mcs-clusterset starts and stops a real ClusterSet on this machine (make clusterset,
// make clusterset-down):
//
//	mcs-clusterset up -exporter BIN   start east and west under .clusterset/, load a sample,
//	                                  print a dig walk-through, and leave it running. Where
//	                                  this machine can run a kubelet, each cluster has a real
//	                                  node and CoreDNS from deploy/ in it: everything runs in
//	                                  `mcs-clusterset serve`, started in the background. Where
//	                                  it cannot (node.Preflight says why), the clusters run
//	                                  detached without nodes: CoreDNS on loopback, pods whose
//	                                  status is written as a kubelet would, the exporter
//	                                  process BIN.
//	mcs-clusterset serve              the background program of a ClusterSet with nodes
//	mcs-clusterset down               stop it all and remove .clusterset/
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcs-dns/multicluster/test/clusterset"
	"github.com/mcs-dns/multicluster/test/controlplane"
	"github.com/mcs-dns/multicluster/test/internal/harness"
	"github.com/mcs-dns/multicluster/test/node"
)

// preferredPorts are the clusters' DNS ports when free (the demo's CoreDNS takes 1053).
var preferredPorts = []int{1054, 1055}

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "up" && os.Args[1] != "down" && os.Args[1] != "serve") {
		fmt.Fprintln(os.Stderr, "usage: mcs-clusterset up -exporter BIN | serve | down")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	exporterBin := fs.String("exporter", "", "the mcs-exporter binary (up)")
	_ = fs.Parse(os.Args[2:])
	root, err := controlplane.RepoRoot()
	if err != nil {
		fail(err)
	}
	dir := filepath.Join(root, ".clusterset")
	switch os.Args[1] {
	case "down":
		err = down(dir)
	case "serve":
		err = serve(dir)
	default:
		err = up(dir, *exporterBin)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "mcs-clusterset:", err)
	os.Exit(1)
}

func down(dir string) error {
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		fmt.Println("no ClusterSet running (no .clusterset/)")
		return nil
	}
	if _, running := clusterset.ServeRunning(dir); running {
		fmt.Println("==> draining the nodes and stopping both clusters (mcs-clusterset serve)")
	}
	if err := clusterset.StopServe(dir, 3*time.Minute); err != nil {
		return err
	}
	if err := clusterset.Down(dir); err != nil {
		return err
	}
	fmt.Println("==> exporter, CoreDNS, nodes and both control planes stopped; removed", dir)
	return nil
}

func up(dir, exporterBin string) error {
	if exporterBin == "" {
		return fmt.Errorf("up needs -exporter BIN")
	}
	exporterBin, err := filepath.Abs(exporterBin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); err == nil {
		fmt.Println("==> a previous ClusterSet is in .clusterset/: stopping it first")
		if err := down(dir); err != nil {
			return err
		}
	}
	root, err := controlplane.RepoRoot()
	if err != nil {
		return err
	}
	if err := node.Preflight(filepath.Join(root, ".cache", "bin")); err != nil {
		fmt.Printf("==> no kubelet nodes on this machine (%v)\n    starting the ClusterSet without them: CoreDNS on loopback, pods whose status is written as a kubelet would\n", err)
		return upWithoutNodes(dir, exporterBin)
	}
	return upWithNodes(dir)
}

// upWithNodes starts `mcs-clusterset serve` in the background and shows its output until it
// serves (or fails).
func upWithNodes(dir string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Println("==> starting east and west under .clusterset/ in the background (mcs-clusterset serve; each cluster: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, the mcs-api servicecontroller, a kubelet node in network namespace mcs-<cluster>, CoreDNS from deploy/)")
	pid, err := clusterset.StartServe(dir, self, "serve")
	if err != nil {
		return err
	}
	logPath := filepath.Join(dir, clusterset.ServeLogFile)
	var offset int64
	deadline := time.Now().Add(10 * time.Minute)
	for {
		offset = printFrom(logPath, offset)
		if _, err := os.Stat(filepath.Join(dir, clusterset.ReadyFile)); err == nil {
			printFrom(logPath, offset)
			return nil
		}
		if _, running := clusterset.ServeRunning(dir); !running {
			printFrom(logPath, offset)
			kept := keepLog(logPath)
			_ = down(dir)
			return fmt.Errorf("mcs-clusterset serve (pid %d) stopped before the ClusterSet was up (its log: %s)", pid, kept)
		}
		if time.Now().After(deadline) {
			kept := keepLog(logPath)
			_ = down(dir)
			return fmt.Errorf("the ClusterSet was not up within 10 minutes (log: %s)", kept)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// keepLog copies the background program's log out of .clusterset/ (which down removes) and
// returns where it is.
func keepLog(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return path
	}
	kept := filepath.Join(os.TempDir(), "mcs-clusterset-failed.log")
	if err := os.WriteFile(kept, data, 0o644); err != nil {
		return path
	}
	return kept
}

// printFrom copies the file from offset to stdout and returns the new offset.
func printFrom(path string, offset int64) int64 {
	f, err := os.Open(path)
	if err != nil {
		return offset
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return offset
	}
	n, _ := io.Copy(os.Stdout, f)
	return offset + n
}

// serve runs the ClusterSet with nodes until SIGTERM or SIGINT, then drains and stops it.
func serve(dir string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	begin := time.Now()
	startCtx, cancel := context.WithTimeout(ctx, 8*time.Minute)
	defer cancel()
	cs, err := clusterset.Start(startCtx, clusterset.Options{Dir: dir, Nodes: true, Exporter: clusterset.InProcess,
		Logf: func(f string, a ...any) { fmt.Printf("    exporter: "+f+"\n", a...) }})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Println("==> stopping: draining the nodes, stopping both clusters")
		if err := cs.Stop(); err != nil {
			fmt.Println("   ", err)
		}
		fmt.Println("==> stopped")
	}()
	fmt.Printf("    both clusters, their nodes and CoreDNS from deploy/ ready in %s\n", time.Since(begin).Round(time.Second))
	if err := sample(startCtx, cs, begin); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, clusterset.ReadyFile), nil, 0o644); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// upWithoutNodes starts the ClusterSet detached, without nodes, and the exporter process.
func upWithoutNodes(dir, exporterBin string) error {
	begin := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var ports []int
	for _, p := range preferredPorts {
		if !harness.PortFree(p) {
			p = 0
		}
		ports = append(ports, p)
	}
	fmt.Println("==> starting east and west under .clusterset/ (each: etcd, kube-apiserver, kube-controller-manager, mcs-api servicecontroller, CoreDNS)")
	cs, err := clusterset.Start(ctx, clusterset.Options{Dir: dir, Detach: true, Exporter: clusterset.NoExporter, CoreDNSPorts: ports})
	if err != nil {
		_ = clusterset.Down(dir)
		return err
	}
	ok := false
	defer func() {
		if !ok {
			_ = clusterset.Down(dir)
		}
	}()
	fmt.Printf("    ready in %s\n", time.Since(begin).Round(time.Millisecond))
	pid, err := cs.StartExporterProcess(exporterBin)
	if err != nil {
		return err
	}
	fmt.Printf("==> exporter running (pid %d, log .clusterset/%s)\n", pid, filepath.Base(cs.ExporterLog()))
	if err := sample(ctx, cs, begin); err != nil {
		return err
	}
	ok = true
	return nil
}

// sample loads the sample workloads, waits for both clusters' answers and prints the
// walk-through.
func sample(ctx context.Context, cs *clusterset.ClusterSet, begin time.Time) error {
	what := "Pods whose status is written as a kubelet would"
	if cs.Clusters[0].HasNode() {
		what = "busybox Pods the kubelets run"
	}
	fmt.Println("==> sample workloads in namespace", clusterset.SampleNamespace, "("+what+"), Services, ServiceExports")
	if err := cs.LoadSample(ctx); err != nil {
		return err
	}
	if err := waitAnswers(ctx, cs); err != nil {
		return err
	}
	fmt.Printf("    first answers in both clusters %s after start\n", time.Since(begin).Round(time.Millisecond))
	return walkThrough(ctx, cs)
}

// waitAnswers waits until both clusters' CoreDNS answer every sample service.
func waitAnswers(ctx context.Context, cs *clusterset.ClusterSet) error {
	for _, c := range cs.Clusters {
		for _, svc := range []string{"web", "db", "dual"} {
			name := svc + "." + clusterset.SampleNamespace + ".svc.clusterset.local."
			deadline := time.Now().Add(60 * time.Second)
			for {
				_, out, err := harness.RunDig(append(c.DNSServer(), "+short", "+tries=1", "+time=2", name, "A")...)
				if err == nil && strings.TrimSpace(out) != "" {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("cluster %s: no answer for %s after 60s", c.Name, name)
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
	}
	return nil
}

// walkThrough digs the sample names in both clusters and shows the objects they come from.
func walkThrough(ctx context.Context, cs *clusterset.ClusterSet) error {
	ns := clusterset.SampleNamespace
	for _, c := range cs.Clusters {
		fmt.Printf("\n==> cluster %s: kubectl --kubeconfig .clusterset/kubeconfig --context %s -n %s get pods,endpointslices\n", c.Name, c.Name, ns)
		if err := printObjects(ctx, c, ns); err != nil {
			return err
		}
	}
	steps := []struct{ comment, name, qtype string }{
		{"ClusterSetIP service: the ClusterIP of this cluster's derived Service (spec.ips)", "web", "A"},
		{"named-port SRV of the ClusterSetIP service", "_http._tcp.web", "SRV"},
		{"dual-stack Service exported from west: ClusterIPs of the derived Service", "dual", "A"},
		{"headless service: the ready pods of both clusters", "db", "A"},
		{"one pod: <hostname>.<cluster id>.<svc>.<ns>.svc.clusterset.local", "db-0.west.db", "A"},
		{"headless SRV: one per ready pod, targets carry the cluster id", "_pg._tcp.db", "SRV"},
	}
	for _, c := range cs.Clusters {
		where := "CoreDNS"
		if c.HasNode() {
			where = "CoreDNS (deploy/'s Deployment behind kube-dns)"
		}
		fmt.Printf("\n==> asking cluster %s's %s with dig\n", c.Name, where)
		for _, s := range steps {
			args := append(c.DNSServer(), "+noall", "+answer", s.name+"."+ns+".svc.clusterset.local", s.qtype)
			cmdline, out, err := harness.RunDig(args...)
			if err != nil {
				return err
			}
			fmt.Printf("\n# %s\n$ %s\n%s", s.comment, cmdline, out)
		}
	}
	east, west := cs.Clusters[0], cs.Clusters[1]
	if !east.HasNode() {
		fmt.Printf(`
==> the ClusterSet keeps running in the background (state and logs in .clusterset/)
    east CoreDNS 127.0.0.1:%[1]d, west CoreDNS 127.0.0.1:%[2]d; kubeconfig .clusterset/kubeconfig (contexts east, west)

Change it and watch both answers follow, e.g. turn a pod not ready as a kubelet would:
    kubectl --kubeconfig .clusterset/kubeconfig --context east -n %[3]s patch pod db-1 --subresource status \
        --type strategic -p '{"status":{"conditions":[{"type":"Ready","status":"False"}]}}'
    dig @127.0.0.1 -p %[1]d +short db.%[3]s.svc.clusterset.local
    dig @127.0.0.1 -p %[2]d +short db.%[3]s.svc.clusterset.local
or unexport a service:
    kubectl --kubeconfig .clusterset/kubeconfig --context west -n %[3]s delete serviceexport dual

Stop it all:
    make clusterset-down
`, east.DNS.Port, west.DNS.Port, ns)
		return nil
	}
	if err := askFromPods(ctx, cs, ns); err != nil {
		return err
	}
	fmt.Printf(`
==> the ClusterSet keeps running in the background (mcs-clusterset serve; state and logs in .clusterset/)
    kubeconfig .clusterset/kubeconfig (contexts east, west); kube-dns: east %[1]s, west %[2]s (routed from this machine)

Change it and watch both answers follow, e.g. remove a pod:
    kubectl --kubeconfig .clusterset/kubeconfig --context east -n %[3]s delete pod db-1
    dig @%[1]s +short db.%[3]s.svc.clusterset.local
    dig @%[2]s +short db.%[3]s.svc.clusterset.local
or unexport a service:
    kubectl --kubeconfig .clusterset/kubeconfig --context west -n %[3]s delete serviceexport dual
Run the MCS conformance suite's DNS specs against it: test/conformance/README.md.

Stop it all:
    make clusterset-down
`, east.Node.ClusterDNS, west.Node.ClusterDNS, ns)
	return nil
}

// askFromPods resolves sample names inside a pod of each cluster, through the resolv.conf the
// kubelet wrote (search path, ndots:5), as applications do.
func askFromPods(ctx context.Context, cs *clusterset.ClusterSet, ns string) error {
	for _, c := range cs.Clusters {
		other := cs.Clusters[0]
		if other == c {
			other = cs.Clusters[1]
		}
		pod := "web-0"
		for _, cmd := range [][]string{
			{"cat", "/etc/resolv.conf"},
			{"getent", "hosts", "web." + ns + ".svc.clusterset.local"},
			{"nslookup", "db-0." + other.Name + ".db." + ns + ".svc.clusterset.local"},
		} {
			out, stderr, err := node.Exec(ctx, c.CP.AdminConfig(), c.Clients.Kube, ns, pod, "", cmd...)
			if err != nil {
				return fmt.Errorf("cluster %s: exec %s in pod %s: %v\n%s%s", c.Name, strings.Join(cmd, " "), pod, err, out, stderr)
			}
			fmt.Printf("\n# inside pod %s/%s of cluster %s\n$ kubectl --kubeconfig .clusterset/kubeconfig --context %s -n %s exec %s -- %s\n%s",
				ns, pod, c.Name, c.Name, ns, pod, strings.Join(cmd, " "), out)
		}
	}
	return nil
}

// printObjects prints the namespace's Pods and EndpointSlices, as kubectl get would.
func printObjects(ctx context.Context, c *clusterset.Cluster, ns string) error {
	pods, err := c.Clients.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tREADY\tSTATUS\tIPS\tNODE")
	for _, p := range pods.Items {
		ready := "0/1"
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				ready = "1/1"
			}
		}
		var ips []string
		for _, ip := range p.Status.PodIPs {
			ips = append(ips, ip.IP)
		}
		fmt.Fprintf(w, "pod/%s\t%s\t%s\t%s\t%s\n", p.Name, ready, p.Status.Phase, strings.Join(ips, ","), p.Spec.NodeName)
	}
	w.Flush()
	slices, err := c.Clients.Kube.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	fmt.Println()
	w = tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tADDRESSTYPE\tPORTS\tENDPOINTS\tWRITTEN BY\tSOURCE CLUSTER")
	for _, es := range slices.Items {
		var ports, eps []string
		for _, p := range es.Ports {
			if p.Port != nil {
				ports = append(ports, fmt.Sprint(*p.Port))
			}
		}
		for _, e := range es.Endpoints {
			eps = append(eps, e.Addresses...)
		}
		if len(eps) > 3 {
			eps = append(eps[:3], fmt.Sprintf("+ %d more", len(eps)-3))
		}
		src := es.Labels["multicluster.kubernetes.io/source-cluster"]
		if src == "" {
			src = "(local)"
		}
		fmt.Fprintf(w, "endpointslice.discovery.k8s.io/%s\t%s\t%s\t%s\t%s\t%s\n", es.Name, es.AddressType,
			strings.Join(ports, ","), strings.Join(eps, ","), es.Labels["endpointslice.kubernetes.io/managed-by"], src)
	}
	return w.Flush()
}
