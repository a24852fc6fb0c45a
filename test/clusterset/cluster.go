package clusterset

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"sync"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/mcs-dns/multicluster/test/controlplane"
	"github.com/mcs-dns/multicluster/test/internal/harness"
	"github.com/mcs-dns/multicluster/test/node"
)

// Cluster is one running member.
type Cluster struct {
	Spec
	// Dir holds the control plane's and CoreDNS's directories.
	Dir string
	// CP is its control plane (etcd, kube-apiserver, kube-controller-manager, servicecontroller).
	CP *controlplane.ControlPlane
	// Clients talk to it as its administrator.
	Clients harness.Clients
	// DNS is its CoreDNS on loopback; nil with a real node, where CoreDNS runs in the
	// cluster (DNSServer says where to ask).
	DNS *harness.CoreDNS

	node      *node.Node
	scheduler *controlplane.Daemon

	podCIDRs []netip.Prefix
	ipMu     sync.Mutex
	nextIP   uint32 // the offset of the next pod address in every pod CIDR
}

// NodeName is the name of the cluster's one Node.
func (c *Cluster) NodeName() string { return c.Name + "-node-1" }

// HasNode reports whether the cluster runs a real node (Options.Nodes).
func (c *Cluster) HasNode() bool { return c.node != nil }

// Stop stops CoreDNS, the node (while the API server can still tell its kubelet to take the
// pods down) and the control plane.
func (c *Cluster) Stop() error {
	var errs []error
	if c.DNS != nil {
		errs = append(errs, c.DNS.Stop())
	}
	errs = append(errs, c.stopNode())
	if c.CP != nil {
		errs = append(errs, c.CP.Stop())
	}
	return errors.Join(errs...)
}

// KubeconfigPath is where Start writes the administrator's kubeconfig of every cluster.
func (cs *ClusterSet) KubeconfigPath() string { return filepath.Join(cs.Dir, "kubeconfig") }

// WriteAdminKubeconfig writes a kubeconfig with one context per cluster, named after it, with
// the administrator's credentials; the first cluster's context is current. It is what
// kubectl --context and the mcs-exporter process read.
func (cs *ClusterSet) WriteAdminKubeconfig(path string) error {
	cfg := clientcmdapi.NewConfig()
	for _, c := range cs.Clusters {
		cluster := clientcmdapi.NewCluster()
		cluster.Server = c.CP.Host()
		cluster.CertificateAuthorityData = c.CP.CACert()
		cfg.Clusters[c.Name] = cluster
		auth := clientcmdapi.NewAuthInfo()
		auth.Token = c.CP.AdminToken()
		cfg.AuthInfos[c.Name+"-admin"] = auth
		kctx := clientcmdapi.NewContext()
		kctx.Cluster, kctx.AuthInfo = c.Name, c.Name+"-admin"
		cfg.Contexts[c.Name] = kctx
		if cfg.CurrentContext == "" {
			cfg.CurrentContext = c.Name
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return clientcmd.WriteToFile(*cfg, path)
}
