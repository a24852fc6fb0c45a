// Package clusterset runs a real ClusterSet of two clusters, east and west, on the loopback
// interface: in each, etcd, kube-apiserver, kube-controller-manager (EndpointSlices from Pods),
// the mcs-api servicecontroller (derived Services, spec.ips) and bin/coredns with the plugin,
// running as deploy/rbac.yaml's ServiceAccount; across them the exporter
// (test/clusterset/exporter), which turns ServiceExports into ServiceImports and copies of the
// exporting clusters' EndpointSlices. Nobody writes a ServiceImport or an EndpointSlice by hand:
// workloads are Nodes and Pods whose status the caller patches, as a kubelet would (pods.go).
package clusterset

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"

	"github.com/mcs-dns/multicluster/test/clusterset/exporter"
	"github.com/mcs-dns/multicluster/test/controlplane"
	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// Spec describes one member cluster.
type Spec struct {
	// Name is the cluster id: the source-cluster label of its slices, CoreDNS's cluster_id.
	Name string
	// ServiceCIDRs are kube-apiserver's service CIDRs (two for a dual-stack cluster).
	ServiceCIDRs []string
	// PodCIDRs are where pod addresses come from, one per family, the primary first.
	PodCIDRs []string
	// Zone is the topology.kubernetes.io/zone label of the cluster's Node.
	Zone string
	// Node is the addressing of the cluster's real node (Options.Nodes).
	Node NodeSpec
}

// Specs are the two clusters: east single-stack IPv4, west dual-stack (IPv4 primary), with
// distinct service and pod CIDRs so an answer tells which cluster it came from.
var Specs = []Spec{
	{Name: "east", ServiceCIDRs: []string{"10.96.0.0/16"}, PodCIDRs: []string{"10.1.0.0/16"}, Zone: "east-1a",
		Node: NodeSpec{NodeIP: "172.31.1.2/24", HostIP: "172.31.1.1/24", PodCIDR: "10.1.1.0/24", ClusterDNS: "10.96.0.10", UpstreamDNS: "10.96.0.2"}},
	{Name: "west", ServiceCIDRs: []string{"10.97.0.0/16", "fd00:97::/112"}, PodCIDRs: []string{"10.2.0.0/16", "fd00:2::/64"}, Zone: "west-1a",
		Node: NodeSpec{NodeIP: "172.31.2.2/24", HostIP: "172.31.2.1/24", PodCIDR: "10.2.1.0/24", ClusterDNS: "10.97.0.10", UpstreamDNS: "10.97.0.2"}},
}

// ExporterMode says how Start runs the exporter.
type ExporterMode int

const (
	// InProcess runs exporter.Run in a goroutine of this program until Stop (tests).
	InProcess ExporterMode = iota
	// NoExporter leaves it to the caller (make clusterset starts the mcs-exporter process).
	NoExporter
)

// Options configure Start.
type Options struct {
	// Dir holds one directory per cluster (control plane, CoreDNS) and the kubeconfigs.
	// Default: a new temporary directory, removed by Stop.
	Dir string
	// Detach starts every process in its own session, to outlive this program (make
	// clusterset); Down stops them.
	Detach bool
	// Exporter says how the exporter runs.
	Exporter ExporterMode
	// Logf receives the exporter's log lines (default: dropped).
	Logf func(format string, args ...any)
	// CoreDNSPorts are the clusters' DNS ports on 127.0.0.1, in Specs order; 0 or missing
	// means a free one.
	CoreDNSPorts []int
	// Nodes gives every cluster a real node, in a network namespace of its own, and runs
	// CoreDNS in it from deploy/ instead of on loopback (nodes.go). Pods are then real: the
	// kubelet writes their status. Not with Detach: the nodes live as long as this program.
	Nodes bool
}

// ClusterSet is the running ClusterSet.
type ClusterSet struct {
	// Dir is the work directory.
	Dir string
	// Clusters are the members, in Specs order.
	Clusters []*Cluster

	ownDir       bool
	stopExporter context.CancelFunc
	exporterDone chan error
}

// Start starts both clusters (in parallel), their CoreDNS and, with InProcess, the exporter.
// On error nothing is left running.
func Start(ctx context.Context, opts Options) (cs *ClusterSet, err error) {
	if _, err := harness.CoreDNSBinary(); err != nil {
		return nil, err
	}
	if opts.Nodes && opts.Detach {
		return nil, errors.New("clusterset: Nodes cannot be Detached (the nodes run in this program)")
	}
	cs = &ClusterSet{Dir: opts.Dir}
	if cs.Dir == "" {
		if cs.Dir, err = os.MkdirTemp("", "mcs-clusterset-"); err != nil {
			return nil, err
		}
		cs.ownDir = true
	}
	if cs.Dir, err = filepath.Abs(cs.Dir); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = cs.Stop()
			cs = nil
		}
	}()

	cs.Clusters = make([]*Cluster, len(Specs))
	errs := make([]error, len(Specs))
	var wg sync.WaitGroup
	for i, spec := range Specs {
		port := 0
		if i < len(opts.CoreDNSPorts) {
			port = opts.CoreDNSPorts[i]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs.Clusters[i], errs[i] = startCluster(ctx, spec, filepath.Join(cs.Dir, spec.Name), opts, port)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return cs, err
	}
	if err := cs.WriteAdminKubeconfig(cs.KubeconfigPath()); err != nil {
		return cs, err
	}
	if opts.Exporter == InProcess {
		cs.runExporter(opts.Logf)
	}
	return cs, nil
}

// startCluster starts one member: its control plane with both controllers, a Node, and
// CoreDNS as deploy/rbac.yaml's ServiceAccount (with opts.Nodes: a real node and CoreDNS from
// deploy/ in it). A cluster that fails to start is stopped.
func startCluster(ctx context.Context, spec Spec, dir string, opts Options, dnsPort int) (c *Cluster, err error) {
	c = &Cluster{Spec: spec, Dir: dir}
	for _, s := range spec.PodCIDRs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: pod CIDR: %w", spec.Name, err)
		}
		c.podCIDRs = append(c.podCIDRs, p)
	}
	var apiArgs []string
	if opts.Nodes {
		if apiArgs, err = c.nodeAPIServerArgs(); err != nil {
			return nil, err
		}
	}
	c.CP, err = controlplane.Start(ctx, controlplane.Options{
		WorkDir:            filepath.Join(dir, "controlplane"),
		Detach:             opts.Detach,
		ServiceCIDRs:       spec.ServiceCIDRs,
		ControllerManager:  true,
		MCSController:      true,
		ExtraAPIServerArgs: apiArgs,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", spec.Name, err)
	}
	defer func() {
		if err != nil {
			_ = c.Stop()
			c = nil
		}
	}()
	if c.Clients, err = harness.NewClients(c.CP.AdminConfig()); err != nil {
		return c, err
	}
	if opts.Nodes {
		if err := c.startNode(ctx); err != nil {
			return c, fmt.Errorf("cluster %s: %w", spec.Name, err)
		}
		return c, nil
	}
	if err := c.createNode(ctx); err != nil {
		return c, fmt.Errorf("cluster %s: %w", spec.Name, err)
	}
	if err := c.startCoreDNS(ctx, opts.Detach, dnsPort); err != nil {
		return c, fmt.Errorf("cluster %s: %w", spec.Name, err)
	}
	return c, nil
}

// runExporter runs exporter.Run over every member until Stop.
func (cs *ClusterSet) runExporter(logf func(string, ...any)) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	var members []exporter.Cluster
	for _, c := range cs.Clusters {
		members = append(members, exporter.Cluster{Name: c.Name, Kube: c.Clients.Kube, MCS: c.Clients.MCS})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cs.stopExporter = cancel
	cs.exporterDone = make(chan error, 1)
	go func() { cs.exporterDone <- exporter.Run(ctx, members, logf) }()
}

// ExporterErr returns the exporter's error if it has stopped on its own, else nil.
func (cs *ClusterSet) ExporterErr() error {
	if cs.exporterDone == nil {
		return nil
	}
	select {
	case err := <-cs.exporterDone:
		cs.exporterDone <- err
		if err == nil {
			err = errors.New("exporter stopped")
		}
		return err
	default:
		return nil
	}
}

// Cluster returns the member named name, or nil.
func (cs *ClusterSet) Cluster(name string) *Cluster {
	for _, c := range cs.Clusters {
		if c != nil && c.Name == name {
			return c
		}
	}
	return nil
}

// Stop stops the exporter, every CoreDNS and every control plane, and removes Dir if Start
// made it.
func (cs *ClusterSet) Stop() error {
	var errs []error
	if cs.stopExporter != nil {
		cs.stopExporter()
		if err := <-cs.exporterDone; err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, fmt.Errorf("exporter: %w", err))
		}
		cs.stopExporter = nil
	}
	for _, c := range cs.Clusters {
		if c != nil {
			errs = append(errs, c.Stop())
		}
	}
	if cs.ownDir {
		errs = append(errs, os.RemoveAll(cs.Dir))
	}
	return errors.Join(errs...)
}
