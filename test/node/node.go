// Package node runs a real Kubernetes node on this machine for the end-to-end suites: containerd
// (Debian's, with a configuration of its own), runc, the CNI bridge plugin, a kubelet and
// kube-proxy (iptables mode), so that pods run, get addresses and reach Services the way they do
// in a cluster: through kube-proxy's rules, with the resolv.conf the kubelet writes.
//
// Everything stays on this machine: the node's address is on a bridge the node creates, pods get
// no default route (only the pod and service CIDRs), and the host blackholes both CIDRs so that
// nothing sent to them leaves through the machine's own interface.
//
// The machine needs root, a kernel with bridges, br_netfilter and iptables, and (for cgroup v1
// hosts) a kubelet that still accepts cgroup v1 (failCgroupV1: false). Preflight says which of
// these is missing and how to get it.
package node

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/mcs-dns/multicluster/test/controlplane"
)

// Options configure Start.
type Options struct {
	// Name is the Node's name (the kubelet's --hostname-override).
	Name string
	// Dir holds containerd's root and state, the kubelet's root, configurations and logs.
	Dir string
	// Kubeconfig is what the kubelet and kube-proxy authenticate with.
	Kubeconfig string
	// BinDir holds kubelet and kube-proxy. Default: <repo>/.cache/bin.
	BinDir string

	// NodeIP is the node's address with its prefix (e.g. 172.30.0.1/24), put on a bridge of
	// its own: the kubelet refuses a loopback address, and the machine's own interface would
	// expose the kubelet's port off the machine.
	NodeIP netip.Prefix
	// PodCIDR is this node's pod range (the kubelet's podCIDR and the CNI bridge's IPAM range).
	PodCIDR netip.Prefix
	// ClusterPodCIDR is the cluster's pod range (kube-proxy's clusterCIDR, pods' routes).
	ClusterPodCIDR netip.Prefix
	// ServiceCIDR is the cluster's service range: pods route it to the node, the host
	// blackholes what kube-proxy does not translate.
	ServiceCIDR netip.Prefix
	// ClusterDNS is the kubelet's clusterDNS: the nameserver of every ClusterFirst pod.
	ClusterDNS netip.Addr
	// UpstreamDNS is the nameserver of the resolv.conf the kubelet hands to dnsPolicy: Default
	// pods (CoreDNS's `forward . /etc/resolv.conf`). It must not be loopback: inside CoreDNS's
	// pod that would be CoreDNS itself, and the loop plugin stops it.
	UpstreamDNS netip.Addr
	// Zone is the node's topology.kubernetes.io/zone label.
	Zone string
	// APIServerPort is the API server's port on loopback: pods reach it at NodeIP on the same
	// port (forwarded to loopback), which the API server advertises (APIServerArgs).
	APIServerPort int

	// NetNS, when set, runs the node in a network namespace of that name (created by Start,
	// deleted by Stop): a second node on this machine, whose kube-proxy would otherwise share
	// the first's iptables chains and whose kubelet its ports. NodeIP is then on the namespace's
	// end of a veth pair and HostIP (same subnet) on the host's end: the kubelet reaches the
	// API server at HostIP (give APIServerArgs HostIP's address, not NodeIP's), the host routes
	// PodCIDR and ServiceCIDR into the namespace.
	NetNS  string
	HostIP netip.Prefix
	// PeerPodCIDRs (with NetNS) are other clusters' pod ranges, routed from the namespace to
	// the host, which routes each node's range into its namespace: a flat pod network across
	// the clusters of a ClusterSet, as Submariner or Cilium ClusterMesh give one, so a pod
	// reaches another cluster's pods behind a ClusterSetIP.
	PeerPodCIDRs []netip.Prefix

	// Ready bounds the wait for the Node to turn Ready. Default 90s.
	Ready time.Duration
}

// Node is a running containerd + kubelet + kube-proxy.
type Node struct {
	opts    Options
	client  kubernetes.Interface
	net     *network
	ctrd    *containerd
	kubelet *controlplane.Daemon
	proxy   *controlplane.Daemon
	api     *apiForwarder
}

// Start prepares the network, starts containerd, the kubelet and kube-proxy, and waits until
// the Node is Ready. On error, what was started is stopped again.
func Start(ctx context.Context, client kubernetes.Interface, o Options) (n *Node, err error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if err := Preflight(o.BinDir); err != nil {
		return nil, err
	}
	for _, d := range []string{o.Dir, o.path("kubelet"), o.path("cni")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	n = &Node{opts: o, client: client}
	defer func() {
		if err != nil {
			err = errors.Join(err, n.Stop(context.Background()))
		}
	}()

	if n.net, err = setUpNetwork(o); err != nil {
		return n, err
	}
	if err = n.forwardAPIServer(o.APIServerPort); err != nil {
		return n, err
	}
	if err = writeNodeKubeconfig(o); err != nil {
		return n, err
	}
	if n.ctrd, err = startContainerd(ctx, o); err != nil {
		return n, err
	}
	if n.kubelet, err = startKubelet(o); err != nil {
		return n, err
	}
	if n.proxy, err = startProxy(o); err != nil {
		return n, err
	}
	if err := n.waitReady(ctx); err != nil {
		return n, err
	}
	return n, nil
}

func (o *Options) defaults() error {
	if o.Name == "" || o.Dir == "" || o.Kubeconfig == "" || o.APIServerPort == 0 {
		return errors.New("node: Name, Dir, Kubeconfig and APIServerPort are required")
	}
	if !o.NodeIP.IsValid() || !o.PodCIDR.IsValid() || !o.ClusterPodCIDR.IsValid() || !o.ServiceCIDR.IsValid() {
		return errors.New("node: NodeIP, PodCIDR, ClusterPodCIDR and ServiceCIDR are required")
	}
	if !o.ClusterDNS.IsValid() || !o.UpstreamDNS.IsValid() || o.UpstreamDNS.IsLoopback() {
		return errors.New("node: ClusterDNS and a non-loopback UpstreamDNS are required")
	}
	if o.NetNS != "" && (!o.HostIP.IsValid() || !o.HostIP.Masked().Contains(o.NodeIP.Addr())) {
		return errors.New("node: a node in a network namespace needs HostIP, in NodeIP's subnet")
	}
	if o.BinDir == "" {
		root, err := controlplane.RepoRoot()
		if err != nil {
			return err
		}
		o.BinDir = filepath.Join(root, ".cache", "bin")
	}
	if o.Ready <= 0 {
		o.Ready = 90 * time.Second
	}
	return nil
}

func (o Options) path(elem ...string) string {
	return filepath.Join(append([]string{o.Dir}, elem...)...)
}

// apiAddr is where the node's programs and pods reach the API server: the node's own address,
// or the host's end of the veth pair for a node in a namespace.
func (o Options) apiAddr() netip.Addr {
	if o.NetNS != "" {
		return o.HostIP.Addr()
	}
	return o.NodeIP.Addr()
}

// startDaemon starts one of the node's programs, in the node's network namespace if it has one.
func (o Options) startDaemon(name, bin string, args []string) (*controlplane.Daemon, error) {
	log := o.path(name + ".log")
	if o.NetNS != "" {
		return controlplane.StartDaemonInNetNS(netnsPath(o.NetNS), name, bin, args, log, false)
	}
	return controlplane.StartDaemon(name, bin, args, log, false)
}

// Name is the Node's name.
func (n *Node) Name() string { return n.opts.Name }

// Stop deletes the node's pods (so the kubelet tears their sandboxes and network down through
// the CRI and CNI, as on a drained node), then stops kube-proxy, the kubelet and containerd, and
// takes back every change made to the host.
func (n *Node) Stop(ctx context.Context) error {
	var errs []error
	if n.kubelet != nil && n.ctrd != nil {
		errs = append(errs, n.drain(ctx))
	}
	if n.api != nil {
		errs = append(errs, n.api.stop())
	}
	for _, d := range []*controlplane.Daemon{n.proxy, n.kubelet} {
		if d != nil {
			errs = append(errs, d.Stop())
		}
	}
	if n.ctrd != nil {
		errs = append(errs, n.ctrd.stop())
	}
	if n.proxy != nil && n.opts.NetNS == "" {
		// A namespace's chains go with it (tearDown).
		errs = append(errs, cleanupProxyRules(n.opts))
	}
	if n.net != nil {
		errs = append(errs, n.net.tearDown())
	}
	errs = append(errs, unmountUnder(n.opts.Dir))
	return errors.Join(errs...)
}

// Logs returns the tails of the node's logs, for a failing test.
func (n *Node) Logs(lines int) string {
	s := ""
	for name, d := range map[string]*controlplane.Daemon{"kubelet": n.kubelet, "kube-proxy": n.proxy} {
		if d != nil {
			s += fmt.Sprintf("--- %s\n%s\n", name, d.LogTail(lines))
		}
	}
	if n.ctrd != nil {
		s += fmt.Sprintf("--- containerd\n%s\n", n.ctrd.daemon.LogTail(lines))
	}
	return s
}
