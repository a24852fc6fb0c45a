package main

import (
	"context"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"
	mcsclient "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned"

	"github.com/mcs-dns/multicluster/test/controlplane"
	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// What an MCS controller writes into a cluster: ServiceImports, and EndpointSlices
// labelled with the service name and the source cluster (one slice per exporting
// cluster and service), built by the harness. The types here are the benchmark's
// compact description of them: one address per endpoint, every endpoint ready.

// port is a named port.
type port = harness.Port

// service is a ServiceImport and the slices exported for it.
type service struct {
	namespace, name string
	headless        bool
	ips             []string
	families        []corev1.IPFamily
	ports           []port
	slices          []slice
}

// slice is one EndpointSlice of one cluster.
type slice struct {
	cluster     string
	addressType discovery.AddressType
	ports       []port
	endpoints   []endpoint
}

type endpoint struct {
	hostname string
	addr     string
}

func (s service) importObject() *mcsv1beta1.ServiceImport {
	return harness.Import{Namespace: s.namespace, Name: s.name, Headless: s.headless, IPs: s.ips, Families: s.families, Ports: s.ports}.V1beta1()
}

func (s service) sliceName(i int) string { return fmt.Sprintf("%s-%s", s.name, s.slices[i].cluster) }

func (s service) sliceObject(i int) *discovery.EndpointSlice {
	sl := s.slices[i]
	hs := harness.Slice{Namespace: s.namespace, Name: s.sliceName(i), Service: s.name, Cluster: sl.cluster,
		AddressType: sl.addressType, Ports: sl.ports}
	for _, e := range sl.endpoints {
		hs.Endpoints = append(hs.Endpoints, harness.Ready(e.hostname, e.addr))
	}
	return hs.Object()
}

func (s service) endpointCount() int {
	n := 0
	for _, sl := range s.slices {
		n += len(sl.endpoints)
	}
	return n
}

// fqdn is the service's name in clusterset.local.
func (s service) fqdn() string { return s.name + "." + s.namespace + ".svc.clusterset.local." }

// clients talk to the control plane as its administrator, with client-side rate
// limits raised so that object creation is bounded by the API server.
type clients struct {
	kube kubernetes.Interface
	mcs  mcsclient.Interface
}

func newClients(cp *controlplane.ControlPlane) (*clients, error) {
	cfg := cp.AdminConfig()
	cfg.QPS, cfg.Burst = 5000, 10000
	c, err := harness.NewClients(cfg)
	if err != nil {
		return nil, err
	}
	return &clients{kube: c.Kube, mcs: c.MCS}, nil
}

// grantCoreDNS gives the CoreDNS identity what both plugins watch: the in-tree
// kubernetes plugin lists Services, EndpointSlices, Namespaces (and Pods with `pods
// verified`), the multicluster plugin ServiceImports and EndpointSlices.
func (c *clients) grantCoreDNS(ctx context.Context) error {
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "bench-coredns"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"services", "endpoints", "namespaces", "pods"}, Verbs: []string{"list", "watch"}},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
			{APIGroups: []string{"multicluster.x-k8s.io"}, Resources: []string{"serviceimports"}, Verbs: []string{"list", "watch"}},
		},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "bench-coredns"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: controlplane.CoreDNSUserName}},
	}
	if _, err := c.kube.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	if _, err := c.kube.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// namespaces creates the namespaces of svcs.
func (c *clients) namespaces(ctx context.Context, svcs []service) error {
	seen := map[string]bool{}
	for _, s := range svcs {
		if seen[s.namespace] {
			continue
		}
		seen[s.namespace] = true
		_, err := c.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: s.namespace}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return nil
}

// create creates the services' namespaces, ServiceImports and EndpointSlices with
// workers parallel requests. Every import is created before its slices.
func (c *clients) create(ctx context.Context, svcs []service, workers int) error {
	if err := c.namespaces(ctx, svcs); err != nil {
		return err
	}
	return parallel(ctx, len(svcs), workers, func(ctx context.Context, i int) error {
		return c.createService(ctx, svcs[i])
	})
}

func (c *clients) createService(ctx context.Context, s service) error {
	if _, err := c.mcs.MulticlusterV1beta1().ServiceImports(s.namespace).Create(ctx, s.importObject(), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating ServiceImport %s/%s: %w", s.namespace, s.name, err)
	}
	for i := range s.slices {
		if _, err := c.kube.DiscoveryV1().EndpointSlices(s.namespace).Create(ctx, s.sliceObject(i), metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating EndpointSlice %s/%s: %w", s.namespace, s.sliceName(i), err)
		}
	}
	return nil
}

// updateImportIPs replaces the VIPs of a ServiceImport.
func (c *clients) updateImportIPs(ctx context.Context, ns, name string, ips []string) error {
	api := c.mcs.MulticlusterV1beta1().ServiceImports(ns)
	si, err := api.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	si.Spec.IPs = ips
	_, err = api.Update(ctx, si, metav1.UpdateOptions{})
	return err
}

// updateSlice writes a slice object (fetched resource version, new content).
func (c *clients) updateSlice(ctx context.Context, es *discovery.EndpointSlice) error {
	api := c.kube.DiscoveryV1().EndpointSlices(es.Namespace)
	cur, err := api.Get(ctx, es.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	es.ResourceVersion = cur.ResourceVersion
	_, err = api.Update(ctx, es, metav1.UpdateOptions{})
	return err
}

// addrFrom returns the IPv4 address base+n.
func addrFrom(base netip.Addr, n int) string {
	b := base.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(n)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
}

var (
	http80   = harness.TCP("http", 80)
	http8080 = harness.TCP("http", 8080)
	v4Only   = []corev1.IPFamily{corev1.IPv4Protocol}
	dual     = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
)

func clusterName(i int) string { return fmt.Sprintf("cluster%d", i) }

// headlessService builds a headless service exported by clusters clusters with perCluster
// endpoints each, hostnames web-0..web-(perCluster-1) in every cluster (one
// StatefulSet per cluster), addresses counting up from base.
func headlessService(ns, name string, clusters []string, perCluster int, base netip.Addr, p port) service {
	s := service{namespace: ns, name: name, headless: true, families: v4Only, ports: []port{p}}
	n := 0
	for _, cl := range clusters {
		sl := slice{cluster: cl, addressType: discovery.AddressTypeIPv4, ports: []port{p}}
		for e := range perCluster {
			sl.endpoints = append(sl.endpoints, endpoint{hostname: fmt.Sprintf("web-%d", e), addr: addrFrom(base, n)})
			n++
		}
		s.slices = append(s.slices, sl)
	}
	return s
}

// clusterSetIPService builds a ClusterSetIP service with the VIPs ips, exported by
// clusters with perCluster endpoints each (no hostnames, as Deployments have none).
func clusterSetIPService(ns, name string, ips []string, families []corev1.IPFamily, clusters []string, perCluster int, base netip.Addr, p port) service {
	s := service{namespace: ns, name: name, ips: ips, families: families, ports: []port{p}}
	n := 0
	for _, cl := range clusters {
		sl := slice{cluster: cl, addressType: discovery.AddressTypeIPv4, ports: []port{{Name: p.Name, Protocol: p.Protocol, Port: 8080}}}
		for range perCluster {
			sl.endpoints = append(sl.endpoints, endpoint{addr: addrFrom(base, n)})
			n++
		}
		s.slices = append(s.slices, sl)
	}
	return s
}

func clusters(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = clusterName(i)
	}
	return out
}
