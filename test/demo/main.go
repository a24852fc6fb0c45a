// Command demo shows the multicluster plugin answering for real, on this machine:
//
//	demo up     start a control plane (etcd + kube-apiserver) under .demo/, load a sample
//	            ClusterSet, start bin/coredns on 127.0.0.1 (port 1053 unless taken), dig
//	            the sample names, and leave everything running in the background
//	demo down   stop CoreDNS and the control plane and remove .demo/
//
// `make demo` and `make demo-down` run it (after hack/ensure-tools.sh and make coredns).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"

	"github.com/mcs-dns/multicluster/test/controlplane"
	"github.com/mcs-dns/multicluster/test/internal/harness"
)

const (
	preferredPort = 1053
	namespace     = "demo"
)

func main() {
	if len(os.Args) != 2 || (os.Args[1] != "up" && os.Args[1] != "down") {
		fmt.Fprintln(os.Stderr, "usage: demo up|down")
		os.Exit(2)
	}
	root, err := controlplane.RepoRoot()
	if err != nil {
		fail(err)
	}
	dir := filepath.Join(root, ".demo")
	if os.Args[1] == "down" {
		err = down(dir)
	} else {
		err = up(root, dir)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "demo:", err)
	os.Exit(1)
}

// down stops CoreDNS and the control plane recorded under dir, then removes dir.
func down(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		fmt.Println("no demo running (no .demo/)")
		return nil
	}
	if err := harness.StopFromPIDFile(filepath.Join(dir, "coredns")); err != nil {
		return fmt.Errorf("stopping CoreDNS: %w", err)
	}
	fmt.Println("==> CoreDNS stopped")
	if err := controlplane.StopFromPIDFile(filepath.Join(dir, "controlplane")); err != nil {
		return fmt.Errorf("stopping the control plane: %w", err)
	}
	fmt.Println("==> control plane (etcd, kube-apiserver) stopped")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	fmt.Println("==> removed", dir)
	return nil
}

func up(root, dir string) error {
	begin := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := harness.CoreDNSBinary(); err != nil {
		return err
	}
	if _, err := os.Stat(dir); err == nil {
		fmt.Println("==> a previous demo is in .demo/: stopping it first")
		if err := down(dir); err != nil {
			return err
		}
	}

	fmt.Println("==> starting etcd and kube-apiserver (detached) under .demo/controlplane")
	cp, err := controlplane.Start(ctx, controlplane.Options{WorkDir: filepath.Join(dir, "controlplane"), Detach: true})
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			_ = harness.StopFromPIDFile(filepath.Join(dir, "coredns"))
			_ = cp.Stop()
		}
	}()
	cpReady := time.Since(begin)
	fmt.Printf("    ready in %s at %s (MCS CRDs v1alpha1 + v1beta1 installed)\n", cpReady.Round(time.Millisecond), cp.Host())
	adminKubeconfig := filepath.Join(dir, "admin.kubeconfig")
	corednsKubeconfig := filepath.Join(dir, "coredns.kubeconfig")
	if err := cp.WriteKubeconfig(adminKubeconfig, controlplane.Admin); err != nil {
		return err
	}
	if err := cp.WriteKubeconfig(corednsKubeconfig, controlplane.CoreDNS); err != nil {
		return err
	}
	fmt.Println("==> granting CoreDNS deploy/rbac.yaml's ClusterRole (list/watch only)")
	if err := harness.ApplyRBAC(ctx, cp, root); err != nil {
		return err
	}

	fmt.Println("==> loading a sample ClusterSet (clusters east, west, eu.central) into namespace", namespace)
	if err := loadSample(ctx, cp); err != nil {
		return err
	}

	// Ephemeral ports for ready and prometheus, and for DNS if the preferred one is taken.
	ports, err := harness.FreePorts(3)
	if err != nil {
		return err
	}
	port, readyPort, metricsPort := preferredPort, ports[1], ports[2]
	if !harness.PortFree(port) {
		port = ports[0]
		fmt.Printf("    port %d is taken: using %d\n", preferredPort, port)
	}
	corefile := fmt.Sprintf(`# The demo's CoreDNS: multicluster for clusterset.local, zone transfers allowed.
.:%d {
    bind 127.0.0.1
    errors
    ready 127.0.0.1:%d
    prometheus 127.0.0.1:%d
    multicluster clusterset.local {
        kubeconfig %s
    }
    transfer {
        to *
    }
}
`, port, readyPort, metricsPort, corednsKubeconfig)
	fmt.Printf("==> starting bin/coredns (detached) on 127.0.0.1:%d\n", port)
	cdStart := time.Now()
	dns, err := harness.Start(ctx, harness.Options{Dir: filepath.Join(dir, "coredns"), Port: port, Corefile: corefile,
		Detach: true, Wait: 30 * time.Second})
	if err != nil {
		return err
	}
	for name, v := range map[string]int{"port": port, "ready-port": readyPort, "metrics-port": metricsPort} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strconv.Itoa(v)+"\n"), 0o644); err != nil {
			return err
		}
	}

	// Wait for the first correct answer.
	first := "web." + namespace + ".svc.clusterset.local."
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := harness.Query(port, first, "A")
		if err == nil && r.Status == "NOERROR" && len(r.Answer) > 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer for %s after 30s; CoreDNS log %s:\n%s", first, dns.LogPath, dns.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	firstAnswer := time.Since(begin)
	fmt.Printf("    first answer %s after CoreDNS started; %s after the demo started\n",
		time.Since(cdStart).Round(time.Millisecond), firstAnswer.Round(time.Millisecond))

	fmt.Println()
	fmt.Println("==> asking it with dig")
	server := harness.Server(port)
	short := append(append([]string{}, server...), "+noall", "+answer")
	show := func(comment string, args ...string) error {
		cmdline, out, err := harness.RunDig(args...)
		if err != nil {
			return err
		}
		fmt.Printf("\n# %s\n$ %s\n%s", comment, cmdline, out)
		return nil
	}
	n := namespace
	steps := []struct {
		comment string
		args    []string
	}{
		{"ClusterSetIP service: its VIP", append(short, "web."+n+".svc.clusterset.local", "A")},
		{"dual-stack ClusterSetIP service: IPv4 and IPv6 VIPs", append(short, "api."+n+".svc.clusterset.local", "A", "api."+n+".svc.clusterset.local", "AAAA")},
		{"named-port SRV of the ClusterSetIP service", append(short, "_http._tcp.web."+n+".svc.clusterset.local", "SRV")},
		{"headless service: the ready endpoints of every cluster", append(short, "db."+n+".svc.clusterset.local", "A")},
		{"one endpoint: <hostname>.<cluster id>.<svc>.<ns>.svc.clusterset.local (the cluster id may contain dots)",
			append(short, "db-0.eu.central.db."+n+".svc.clusterset.local", "A")},
		{"headless SRV: one per endpoint, targets carry the cluster id", append(short, "_pg._tcp.db."+n+".svc.clusterset.local", "SRV")},
		{"the MCS DNS schema version", append(short, "dns-version.clusterset.local", "TXT")},
		{"a name that does not exist: NXDOMAIN with the zone's SOA (dig's .local warning is harmless)", append(append([]string{}, server...), "+noall", "+comments", "+authority", "nope."+n+".svc.clusterset.local", "A")},
		{"the whole zone through the transfer plugin", append(short, "AXFR", "clusterset.local")},
	}
	for _, s := range steps {
		if err := show(s.comment, s.args...); err != nil {
			return err
		}
	}

	etcdPID, apiPID := cp.PIDs()
	fmt.Printf("\n==> the demo keeps running in the background\n")
	fmt.Printf("    CoreDNS          pid %d, 127.0.0.1:%d (log: .demo/coredns/coredns.log, Corefile: .demo/coredns/Corefile)\n", dns.PID, port)
	fmt.Printf("    kube-apiserver   pid %d, %s\n", apiPID, cp.Host())
	fmt.Printf("    etcd             pid %d\n", etcdPID)
	fmt.Printf("    time to first answer: %s (control plane %s, then sample data and CoreDNS)\n",
		firstAnswer.Round(time.Millisecond), cpReady.Round(time.Millisecond))
	d := fmt.Sprintf("dig @127.0.0.1 -p %d", port)
	fmt.Printf(`
Dig it yourself:
    %[1]s web.%[2]s.svc.clusterset.local
    %[1]s _pg._tcp.db.%[2]s.svc.clusterset.local SRV
    %[1]s AXFR clusterset.local
(dig warns that .local is reserved for multicast DNS: harmless, the query went to CoreDNS.)

Change the ClusterSet and watch the answers follow (any kubectl, with the admin kubeconfig):
    export KUBECONFIG=%[3]s
    kubectl -n %[2]s get serviceimports,endpointslices
    kubectl -n %[2]s patch serviceimport web --type merge -p '{"spec":{"ips":["10.100.0.11"]}}'
    %[1]s +short web.%[2]s.svc.clusterset.local

Stop it all:
    make demo-down
`, d, n, adminKubeconfig)
	ok = true
	return nil
}

// loadSample creates what MCS controllers would write for three clusters exporting three
// services: a ClusterSetIP service, a dual-stack one, and a headless StatefulSet-like one.
func loadSample(ctx context.Context, cp *controlplane.ControlPlane) error {
	c, err := harness.NewClients(cp.AdminConfig())
	if err != nil {
		return err
	}
	if err := c.Namespace(ctx, namespace); err != nil {
		return err
	}
	v4 := []corev1.IPFamily{corev1.IPv4Protocol}
	imports := []harness.Import{
		{Name: "web", IPs: []string{"10.100.0.10"}, Families: v4, Ports: []harness.Port{harness.TCP("http", 80)}},
		{Name: "api", IPs: []string{"10.100.0.20", "fd00:100::20"}, Families: []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol},
			Ports: []harness.Port{harness.TCP("grpc", 9090)}},
		{Name: "db", Headless: true, Families: v4, Ports: []harness.Port{harness.TCP("pg", 5432)}},
	}
	for _, i := range imports {
		i.Namespace = namespace
		if err := c.CreateImport(ctx, i, false); err != nil {
			return err
		}
	}
	http := []harness.Port{harness.TCP("http", 80)}
	grpc := []harness.Port{harness.TCP("grpc", 9090)}
	pg := []harness.Port{harness.TCP("pg", 5432)}
	slices := []harness.Slice{
		{Name: "web-east", Service: "web", Cluster: "east", Ports: http, Endpoints: []harness.Endpoint{harness.Ready("", "10.1.0.10")}},
		{Name: "web-west", Service: "web", Cluster: "west", Ports: http, Endpoints: []harness.Endpoint{harness.Ready("", "10.2.0.10")}},
		{Name: "api-east", Service: "api", Cluster: "east", Ports: grpc, Endpoints: []harness.Endpoint{harness.Ready("", "10.1.0.20")}},
		{Name: "api-east-v6", Service: "api", Cluster: "east", AddressType: discovery.AddressTypeIPv6, Ports: grpc,
			Endpoints: []harness.Endpoint{harness.Ready("", "fd00:1::20")}},
		{Name: "db-east", Service: "db", Cluster: "east", Ports: pg,
			Endpoints: []harness.Endpoint{harness.Ready("db-0", "10.1.0.30"), harness.Ready("db-1", "10.1.0.31")}},
		{Name: "db-west", Service: "db", Cluster: "west", Ports: pg,
			Endpoints: []harness.Endpoint{harness.Ready("db-0", "10.2.0.30"), harness.NotReady("db-1", "10.2.0.31")}},
		{Name: "db-eu-central", Service: "db", Cluster: "eu.central", Ports: pg,
			Endpoints: []harness.Endpoint{harness.Ready("db-0", "10.3.0.30")}},
	}
	for _, s := range slices {
		s.Namespace = namespace
		if err := c.CreateSlice(ctx, s); err != nil {
			return err
		}
	}
	var names []string
	for _, i := range imports {
		kind := "ClusterSetIP"
		if i.Headless {
			kind = "Headless"
		}
		names = append(names, i.Name+" ("+kind+")")
	}
	fmt.Printf("    ServiceImports: %s; %d EndpointSlices (db-1 in west is not ready)\n", strings.Join(names, ", "), len(slices))
	return nil
}
