package node

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/mcs-dns/multicluster/test/controlplane"
	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// proxyConfig runs kube-proxy in iptables mode (iptables-nft here, as Debian 12 ships it),
// listening on loopback only (its healthz and metrics ports must be real ports), and leaves the conntrack sysctls alone (maxPerCore 0, no
// timeouts): setting them needs privileges a VM or container may not grant, and the defaults
// do for a test node.
func proxyConfig(o Options, healthz, metrics int) string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: %s
mode: iptables
clusterCIDR: %s
hostnameOverride: %s
bindAddress: %s
healthzBindAddress: 127.0.0.1:%d
metricsBindAddress: 127.0.0.1:%d
nodePortAddresses: [%q]
conntrack:
  maxPerCore: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`, o.kubeconfig(), o.ClusterPodCIDR.Masked(), o.Name, o.NodeIP.Addr(), healthz, metrics, o.NodeIP.Masked())
}

func startProxy(o Options) (*controlplane.Daemon, error) {
	ports, err := harness.FreePorts(2)
	if err != nil {
		return nil, err
	}
	conf := o.path("kube-proxy.yaml")
	if err := os.WriteFile(conf, []byte(proxyConfig(o, ports[0], ports[1])), 0o644); err != nil {
		return nil, err
	}
	return o.startDaemon("kube-proxy", filepath.Join(o.BinDir, "kube-proxy"), []string{"--config", conf, "--v=1"})
}

// cleanupProxyRules removes kube-proxy's chains and rules from the host, and the kubelet's
// (KUBE-FIREWALL, which drops traffic to 127.0.0.0/8 from elsewhere, its canary and hint
// chains):
// neither program removes its own when it stops.
func cleanupProxyRules(o Options) error {
	out, err := exec.Command(filepath.Join(o.BinDir, "kube-proxy"), "--cleanup").CombinedOutput()
	if err != nil {
		return fmt.Errorf("kube-proxy --cleanup: %v: %s", err, strings.TrimSpace(string(out)))
	}
	for _, ipt := range []string{"iptables", "ip6tables"} {
		for _, args := range [][]string{
			{"-D", "INPUT", "-j", "KUBE-FIREWALL"}, {"-D", "OUTPUT", "-j", "KUBE-FIREWALL"},
			{"-F", "KUBE-FIREWALL"}, {"-X", "KUBE-FIREWALL"},
			{"-t", "filter", "-X", "KUBE-KUBELET-CANARY"}, {"-t", "nat", "-X", "KUBE-KUBELET-CANARY"},
			{"-t", "mangle", "-X", "KUBE-KUBELET-CANARY"}, {"-t", "mangle", "-X", "KUBE-IPTABLES-HINT"},
		} {
			_ = exec.Command(ipt, args...).Run() // absent when the kubelet never got that far
		}
	}
	return nil
}
