// Command mcs-clusterset starts and stops a real ClusterSet on this machine (make clusterset,
// make clusterset-down):
//
//	mcs-clusterset up -exporter BIN   start east and west (etcd, kube-apiserver,
//	                                  kube-controller-manager, mcs-api servicecontroller,
//	                                  CoreDNS each) and the exporter process BIN, detached,
//	                                  under .clusterset/; load a sample; print a dig walk-through
//	mcs-clusterset down               stop it all and remove .clusterset/
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcs-dns/multicluster/test/clusterset"
	"github.com/mcs-dns/multicluster/test/controlplane"
	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// preferredPorts are the clusters' DNS ports when free (the demo's CoreDNS takes 1053).
var preferredPorts = []int{1054, 1055}

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "up" && os.Args[1] != "down") {
		fmt.Fprintln(os.Stderr, "usage: mcs-clusterset up -exporter BIN | down")
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
	if os.Args[1] == "down" {
		err = down(dir)
	} else {
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
	if err := clusterset.Down(dir); err != nil {
		return err
	}
	fmt.Println("==> exporter, CoreDNS and both control planes stopped; removed", dir)
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
	begin := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if _, err := os.Stat(dir); err == nil {
		fmt.Println("==> a previous ClusterSet is in .clusterset/: stopping it first")
		if err := down(dir); err != nil {
			return err
		}
	}
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
	fmt.Println("==> sample workloads in namespace", clusterset.SampleNamespace, "(Pods whose status is written as a kubelet would), Services, ServiceExports")
	if err := cs.LoadSample(ctx); err != nil {
		return err
	}
	if err := waitAnswers(ctx, cs); err != nil {
		return err
	}
	fmt.Printf("    first answers in both clusters %s after start\n", time.Since(begin).Round(time.Millisecond))
	if err := walkThrough(ctx, cs); err != nil {
		return err
	}
	ok = true
	return nil
}

// waitAnswers waits until both clusters' CoreDNS answer every sample service.
func waitAnswers(ctx context.Context, cs *clusterset.ClusterSet) error {
	for _, c := range cs.Clusters {
		for _, svc := range []string{"web", "db", "dual"} {
			name := svc + "." + clusterset.SampleNamespace + ".svc.clusterset.local."
			deadline := time.Now().Add(60 * time.Second)
			for {
				r, err := harness.Query(c.DNS.Port, name, "A")
				if err == nil && r.Status == "NOERROR" && len(r.Answer) > 0 {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("cluster %s: no answer for %s after 60s (exporter log: %s)", c.Name, name, cs.ExporterLog())
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
		fmt.Printf("\n==> asking cluster %s's CoreDNS (127.0.0.1:%d) with dig\n", c.Name, c.DNS.Port)
		for _, s := range steps {
			args := append(harness.Server(c.DNS.Port), "+noall", "+answer", s.name+"."+ns+".svc.clusterset.local", s.qtype)
			cmdline, out, err := harness.RunDig(args...)
			if err != nil {
				return err
			}
			fmt.Printf("\n# %s\n$ %s\n%s", s.comment, cmdline, out)
		}
	}
	east, west := cs.Clusters[0], cs.Clusters[1]
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
