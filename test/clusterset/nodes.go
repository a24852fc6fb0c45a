package clusterset

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"time"

	"k8s.io/client-go/dynamic"

	"github.com/mcs-dns/multicluster/test/controlplane"
	"github.com/mcs-dns/multicluster/test/internal/harness"
	"github.com/mcs-dns/multicluster/test/node"
)

// With Options.Nodes every cluster gets a real node (test/node: containerd, kubelet,
// kube-proxy), each in a network namespace of its own (mcs-<cluster>) so that two kube-proxies
// and two kubelets run on one machine; kube-scheduler places the pods; CoreDNS runs in the
// cluster from deploy/ (the image `make image` builds, imported into containerd), behind the
// kube-dns Service at the kubelet's clusterDNS. The host routes each node's pod range and the
// cluster's IPv4 service range into its namespace, so dig on the host reaches kube-dns, and
// each namespace routes the other clusters' pod ranges to the host: one flat pod network, as
// the ClusterSet's network layer (Submariner, Cilium ClusterMesh) makes one.

// NodeSpec is one cluster's node addressing (Options.Nodes).
type NodeSpec struct {
	// NodeIP is the node's address inside its namespace; HostIP the host's end of the veth
	// pair, where the API server is advertised and reached.
	NodeIP, HostIP string
	// PodCIDR is the node's pod range, inside the cluster's first pod CIDR.
	PodCIDR string
	// ClusterDNS is the kube-dns Service's address (the kubelet's clusterDNS); UpstreamDNS
	// an unused service address, the nameserver CoreDNS forwards other names to (dropped
	// inside the namespace: nothing leaves the machine).
	ClusterDNS, UpstreamDNS string
}

// CoreDNSImage is the name make clusterset gives `make image`'s archive in the nodes.
const CoreDNSImage = "localhost/coredns-multicluster:clusterset"

func (c *Cluster) netns() string { return "mcs-" + c.Name }

// nodeAPIServerArgs prepares the kubelet credentials and returns the API server flags a
// cluster with a node needs (node.APIServerArgs, advertised at the host's end of the veth pair).
func (c *Cluster) nodeAPIServerArgs() ([]string, error) {
	host, err := netip.ParsePrefix(c.Node.HostIP)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: HostIP: %w", c.Name, err)
	}
	return node.APIServerArgs(filepath.Join(c.Dir, "node"), host.Addr())
}

// startNode starts kube-scheduler and the node, imports the images and applies deploy/.
func (c *Cluster) startNode(ctx context.Context) error {
	root, err := controlplane.RepoRoot()
	if err != nil {
		return err
	}
	binDir := filepath.Join(root, ".cache", "bin")
	if err := node.Preflight(binDir); err != nil {
		return err
	}
	kubeconfig := filepath.Join(c.Dir, "admin.kubeconfig")
	if err := c.CP.WriteKubeconfig(kubeconfig, controlplane.Admin); err != nil {
		return err
	}
	if c.scheduler, err = node.StartScheduler(binDir, kubeconfig, filepath.Join(c.Dir, "kube-scheduler.log")); err != nil {
		return err
	}
	opts := node.Options{
		Name: c.NodeName(), Dir: filepath.Join(c.Dir, "node"), Kubeconfig: kubeconfig, BinDir: binDir,
		Zone: c.Zone, APIServerPort: c.CP.SecurePort(), NetNS: c.netns(), Ready: 2 * time.Minute,
	}
	for _, p := range []struct {
		s   string
		dst *netip.Prefix
	}{{c.Node.NodeIP, &opts.NodeIP}, {c.Node.HostIP, &opts.HostIP}, {c.Node.PodCIDR, &opts.PodCIDR},
		{c.PodCIDRs[0], &opts.ClusterPodCIDR}, {c.ServiceCIDRs[0], &opts.ServiceCIDR}} {
		if *p.dst, err = netip.ParsePrefix(p.s); err != nil {
			return fmt.Errorf("cluster %s: %w", c.Name, err)
		}
	}
	for _, peer := range Specs {
		if peer.Name != c.Name {
			p, err := netip.ParsePrefix(peer.PodCIDRs[0])
			if err != nil {
				return err
			}
			opts.PeerPodCIDRs = append(opts.PeerPodCIDRs, p)
		}
	}
	if opts.ClusterDNS, err = netip.ParseAddr(c.Node.ClusterDNS); err != nil {
		return err
	}
	if opts.UpstreamDNS, err = netip.ParseAddr(c.Node.UpstreamDNS); err != nil {
		return err
	}
	if c.node, err = node.Start(ctx, c.Clients.Kube, opts); err != nil {
		return err
	}
	if err := c.importImages(ctx); err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(c.CP.AdminConfig())
	if err != nil {
		return err
	}
	if err := harness.ApplyDeploy(ctx, c.Clients.Kube, dyn, root, CoreDNSImage, c.Node.ClusterDNS); err != nil {
		return err
	}
	return harness.WaitRollout(ctx, c.Clients.Kube, corednsNamespace, "coredns", 3*time.Minute)
}

// importImages puts the pods' images (node.WriteImages: the sandbox, busybox and the MCS
// conformance suite's) and `make image`'s CoreDNS image into the node's containerd.
func (c *Cluster) importImages(ctx context.Context) error {
	bin, err := harness.CoreDNSBinary()
	if err != nil {
		return err
	}
	return c.node.ImportImages(ctx, filepath.Join(c.Dir, "images"), bin, CoreDNSImage)
}

// DNSServer is the dig arguments that reach the cluster's CoreDNS from this machine: kube-dns
// on a cluster with a node, else the CoreDNS process on loopback.
func (c *Cluster) DNSServer() []string {
	if c.node != nil {
		return []string{"@" + c.Node.ClusterDNS}
	}
	return harness.Server(c.DNS.Port)
}

// stopNode drains and stops the node, then kube-scheduler.
func (c *Cluster) stopNode() error {
	var err error
	if c.node != nil {
		err = c.node.Stop(context.Background())
	}
	if c.scheduler != nil {
		if serr := c.scheduler.Stop(); err == nil {
			err = serr
		}
	}
	return err
}
