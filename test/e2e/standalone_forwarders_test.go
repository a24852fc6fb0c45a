package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/mcs-dns/multicluster/test/controlplane"
	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// What ships in deploy/standalone, read as the tests feed it to the real software: the
// standalone server's Corefile, its Service address, and the forwarding recipes of README
// "Deploying" (the CoreDNS stanza for AKS, k3s and kubeadm, the EKS add-on value, the
// kube-dns stubDomains of GKE).

// readObject reads a one-document YAML manifest.
func readObject(t *testing.T, path string) *unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(js); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return obj
}

// configMapValue returns data[key] of the ConfigMap in path.
func configMapValue(t *testing.T, path, key string) string {
	t.Helper()
	v, ok, err := unstructured.NestedString(readObject(t, path).Object, "data", key)
	if err != nil || !ok || v == "" {
		t.Fatalf("%s: no data.%s (%v)", path, key, err)
	}
	return v
}

// standalonePaths are the files of deploy/standalone the tests read.
type standalonePaths struct{ root string }

func (p standalonePaths) file(rel string) string {
	return filepath.Join(p.root, "deploy", "standalone", rel)
}

// serviceIP is the clusterIP of the standalone server's Service: the address every
// forwarding recipe must name.
func (p standalonePaths) serviceIP(t *testing.T) string {
	t.Helper()
	ip, _, _ := unstructured.NestedString(readObject(t, p.file("service.yaml")).Object, "spec", "clusterIP")
	if ip == "" {
		t.Fatal("deploy/standalone/service.yaml has no clusterIP")
	}
	return ip
}

// corefile is the standalone server's Corefile (configmap.yaml), changed only where a
// test machine differs from a pod: listen addresses and a kubeconfig instead of the
// in-cluster service account.
func (p standalonePaths) corefile(t *testing.T, kubeconfig string, port, health, ready, metrics int) string {
	t.Helper()
	c := configMapValue(t, p.file("configmap.yaml"), "Corefile")
	return replaceOnce(t, "deploy/standalone/configmap.yaml", c, []struct{ old, new string }{
		{"clusterset.local:53 {", fmt.Sprintf("clusterset.local:%d {\n    bind 127.0.0.1", port)},
		{"health {", fmt.Sprintf("health 127.0.0.1:%d {", health)},
		{"ready\n", fmt.Sprintf("ready 127.0.0.1:%d\n", ready)},
		{"multicluster\n", "multicluster {\n       kubeconfig " + kubeconfig + "\n    }\n"},
		{"prometheus :9153", fmt.Sprintf("prometheus 127.0.0.1:%d", metrics)},
	})
}

// stanza is the CoreDNS server block of forwarding/coredns-custom.yaml (AKS's and k3s's
// coredns-custom key), checked to forward to the Service's address and to be the same
// text as the block appended to the EKS add-on's corefile value.
func (p standalonePaths) stanza(t *testing.T) string {
	t.Helper()
	s := configMapValue(t, p.file("forwarding/coredns-custom.yaml"), "clusterset.server")
	if want := "forward . " + p.serviceIP(t) + "\n"; !strings.Contains(s, want) {
		t.Fatalf("forwarding/coredns-custom.yaml: the stanza lacks %q:\n%s", want, s)
	}
	data, err := os.ReadFile(p.file("forwarding/eks-coredns-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var eks struct {
		Corefile string `json:"corefile"`
	}
	if err := yaml.UnmarshalStrict(data, &eks); err != nil {
		t.Fatalf("forwarding/eks-coredns-values.yaml: %v", err)
	}
	if !strings.HasSuffix(eks.Corefile, "\n"+s) || !strings.HasPrefix(eks.Corefile, ".:53 {") {
		t.Fatalf("forwarding/eks-coredns-values.yaml: the corefile value should be the add-on's .:53 block followed by coredns-custom.yaml's stanza:\n%s", eks.Corefile)
	}
	return s
}

// stockCorefile is the stanza as stock CoreDNS runs it here: on port, bound to
// 127.0.0.1, forwarding to the standalone server on upstream.
func (p standalonePaths) stockCorefile(t *testing.T, port, upstream int) string {
	t.Helper()
	return replaceOnce(t, "forwarding/coredns-custom.yaml", p.stanza(t), []struct{ old, new string }{
		{"clusterset.local:53 {", fmt.Sprintf("clusterset.local:%d {\n    bind 127.0.0.1", port)},
		{"forward . " + p.serviceIP(t), fmt.Sprintf("forward . 127.0.0.1:%d", upstream)},
	})
}

// stubDomains are the kube-dns ConfigMap's stubDomains (forwarding/kube-dns-stubdomains.yaml).
func (p standalonePaths) stubDomains(t *testing.T) map[string][]string {
	t.Helper()
	var stubs map[string][]string
	raw := configMapValue(t, p.file("forwarding/kube-dns-stubdomains.yaml"), "stubDomains")
	if err := json.Unmarshal([]byte(raw), &stubs); err != nil {
		t.Fatalf("forwarding/kube-dns-stubdomains.yaml: stubDomains is not kube-dns's JSON: %v", err)
	}
	if ips := stubs["clusterset.local"]; len(stubs) != 1 || len(ips) != 1 || ips[0] != p.serviceIP(t) {
		t.Fatalf("forwarding/kube-dns-stubdomains.yaml: stubDomains %v, want clusterset.local to the Service's address %s", stubs, p.serviceIP(t))
	}
	return stubs
}

func replaceOnce(t *testing.T, what, s string, rs []struct{ old, new string }) string {
	t.Helper()
	for _, r := range rs {
		if strings.Count(s, r.old) != 1 {
			t.Fatalf("%s should contain %q once:\n%s", what, r.old, s)
		}
		s = strings.Replace(s, r.old, r.new, 1)
	}
	return s
}

// stockCoreDNSBinary is upstream CoreDNS without the plugin, built by
// hack/build-stock-coredns.sh (make tools).
func stockCoreDNSBinary(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(root, ".cache", "bin", "coredns-stock")
	if _, err := os.Stat(bin); err != nil {
		missingTool(t, "stock CoreDNS (hack/build-stock-coredns.sh)", err)
	}
	return bin
}

// missingTool skips t, or fails it when the suite is required to run in full.
func missingTool(t *testing.T, what string, err error) {
	t.Helper()
	if required() {
		t.Fatalf("%s: %v", what, err)
	}
	t.Skipf("%s: %v (run hack/ensure-tools.sh)", what, err)
}

// startStockCoreDNS runs stock CoreDNS with corefile for the rest of t.
func startStockCoreDNS(t *testing.T, bin string, port int, corefile string) *harness.CoreDNS {
	t.Helper()
	c, err := harness.Start(context.Background(), harness.Options{Bin: bin, Dir: t.TempDir(), Port: port, Corefile: corefile, Wait: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Kill() })
	dumpLogOnFailure(t, c)
	return c
}

// kubeDNSDnsmasqFlags are the flags kube-dns's Deployment gives dnsmasq
// (kubernetes/kubernetes cluster/addons/dns/kube-dns/kube-dns.yaml.in), less its
// --server flags for cluster.local and the reverse zones, which go to kube-dns itself.
// --no-negcache matters here: dnsmasq caches no NXDOMAIN or NODATA.
var kubeDNSDnsmasqFlags = []string{"-k", "--cache-size=1000", "--no-negcache", "--dns-loop-detect", "--log-facility=-"}

// dnsmasqStubArgs is what dnsmasq-nanny appends for stubDomains (kubernetes/dns
// pkg/dnsmasq/nanny.go): `--server /DOMAIN/SERVER`, an "IP:port" server written
// "IP#port", dnsmasq's port separator.
func dnsmasqStubArgs(stubs map[string][]string) []string {
	var args []string
	for domain, servers := range stubs {
		for _, s := range servers {
			if i := strings.LastIndexByte(s, ':'); i >= 0 && strings.Count(s, ":") == 1 {
				s = s[:i] + "#" + s[i+1:]
			}
			args = append(args, "--server", "/"+domain+"/"+s)
		}
	}
	return args
}

// startDnsmasq runs dnsmasq as kube-dns does, on 127.0.0.1:port, with the stubDomains
// given; --no-resolv and --no-hosts keep this machine's resolvers and hosts file out of
// it, -C /dev/null any system dnsmasq.conf. It returns the process, stopped when t ends.
func startDnsmasq(t *testing.T, port int, stubs map[string][]string) *exec.Cmd {
	t.Helper()
	bin, err := exec.LookPath("dnsmasq")
	if err != nil {
		missingTool(t, "dnsmasq (Debian package dnsmasq-base)", err)
	}
	args := append([]string{"-C", "/dev/null", "--pid-file=", "--port=" + strconv.Itoa(port), "--listen-address=127.0.0.1",
		"--bind-interfaces", "--no-resolv", "--no-hosts"}, kubeDNSDnsmasqFlags...)
	args = append(args, dnsmasqStubArgs(stubs)...)
	logPath := filepath.Join(t.TempDir(), "dnsmasq.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			t.Logf("dnsmasq %s\nlog:\n%s", strings.Join(args, " "), data)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := harness.Query(port, "dns-version."+Zone, "TXT"); err == nil {
			return cmd
		}
		select {
		case <-done:
			data, _ := os.ReadFile(logPath)
			t.Fatalf("dnsmasq exited: %s", data)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dnsmasq not answering on 127.0.0.1:%d", port)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStandaloneReadmeQuotes checks README "Deploying" quotes every forwarding recipe
// exactly as the file TestStandaloneBehind feeds to the forwarders (comments aside).
func TestStandaloneReadmeQuotes(t *testing.T) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"coredns-custom.yaml", "eks-coredns-values.yaml", "kube-dns-stubdomains.yaml"} {
		data, err := os.ReadFile(filepath.Join(root, "deploy", "standalone", "forwarding", f))
		if err != nil {
			t.Fatal(err)
		}
		var kept []string
		for _, line := range strings.SplitAfter(string(data), "\n") {
			if !strings.HasPrefix(line, "#") {
				kept = append(kept, line)
			}
		}
		body := strings.Join(kept, "")
		if !strings.Contains(string(readme), "~~~ yaml\n"+body+"~~~\n") {
			t.Errorf("README.md does not quote deploy/standalone/forwarding/%s as it is:\n%s", f, body)
		}
	}
}
