package node

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mcs-dns/multicluster/test/controlplane"
)

// kubeletConfig is the KubeletConfiguration of a node on this kind of machine:
//   - failCgroupV1: false: the hierarchy here is cgroup v1 (cgroup2 only at
//     /sys/fs/cgroup/unified), which kubelets since 1.35 refuse unless told (KEP-5573);
//   - cgroupfs, as containerd is configured (PID 1 is not systemd);
//   - the kubelet's API on the node address only, authenticated by the client certificate the
//     API server presents (exec, logs, port-forward), nothing anonymous;
//   - eviction thresholds low: cAdvisor cannot size the root device here, and a nearly full
//     disk must not evict the pods under test;
//   - clusterDNS / clusterDomain: the resolv.conf of every ClusterFirst pod (search path,
//     ndots:5), as kubeadm configures it.
func kubeletConfig(o Options) string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: %s
containerRuntimeEndpoint: unix://%s
address: %s
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 0
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: false
  x509:
    clientCAFile: %s
authorization:
  mode: AlwaysAllow
clusterDNS: [%q]
clusterDomain: cluster.local
resolvConf: %s
failSwapOn: false
enforceNodeAllocatable: []
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "1%%"
  imagefs.available: "1%%"
  nodefs.inodesFree: "1%%"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
localStorageCapacityIsolation: false
podCIDR: %s
maxPods: 60
`, o.cgroupRoot(), o.path("containerd", "containerd.sock"), o.NodeIP.Addr(), o.path("pki", "kubelet-client-ca.crt"),
		o.ClusterDNS, o.path("resolv.conf"), o.PodCIDR.Masked())
}

// cgroupRoot is the kubelet's cgroupRoot: the hierarchy's root, or for a node in a namespace a
// cgroup of its own (netns.go, makeCgroupRoot).
func (o Options) cgroupRoot() string {
	if o.NetNS != "" {
		return "/" + o.NetNS
	}
	return "/"
}

func startKubelet(o Options) (*controlplane.Daemon, error) {
	if _, err := os.Stat(o.path("pki", "kubelet-client-ca.crt")); err != nil {
		return nil, fmt.Errorf("node: no kubelet client CA in %s: start the API server with APIServerArgs(%q)", o.path("pki"), o.Dir)
	}
	// The resolv.conf that dnsPolicy: Default pods (CoreDNS) get: an upstream that is not
	// loopback and, pods having no default route, cannot leave the machine either.
	resolv := fmt.Sprintf("nameserver %s\n", o.UpstreamDNS)
	if err := os.WriteFile(o.path("resolv.conf"), []byte(resolv), 0o644); err != nil {
		return nil, err
	}
	conf := o.path("kubelet.yaml")
	if err := os.WriteFile(conf, []byte(kubeletConfig(o)), 0o644); err != nil {
		return nil, err
	}
	labels := []string{"kubernetes.io/os=linux"}
	if o.Zone != "" {
		labels = append(labels, "topology.kubernetes.io/zone="+o.Zone)
	}
	args := []string{
		"--config", conf,
		"--kubeconfig", o.kubeconfig(),
		"--hostname-override", o.Name,
		"--node-ip", o.NodeIP.Addr().String(),
		"--node-labels", strings.Join(labels, ","),
		"--root-dir", o.path("kubelet"),
		"--cert-dir", o.path("kubelet", "pki"),
		"--v=1",
	}
	return o.startDaemon("kubelet", filepath.Join(o.BinDir, "kubelet"), args)
}
