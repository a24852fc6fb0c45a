package harness

import (
	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"
)

// Builders for what an MCS controller writes into a cluster: ServiceImports, and
// EndpointSlices labelled with the service name and the source cluster. No
// kube-controller-manager runs, so nothing else creates EndpointSlices.

// ManagedBy is the endpointslice.kubernetes.io/managed-by value of the slices made here.
const ManagedBy = "harness.mcs-dns.test"

// Port is a service or endpoint port.
type Port struct {
	Name     string
	Protocol corev1.Protocol // "" means TCP
	Port     int32
}

// TCP, UDP and SCTP build named ports.
func TCP(name string, port int32) Port  { return Port{name, corev1.ProtocolTCP, port} }
func UDP(name string, port int32) Port  { return Port{name, corev1.ProtocolUDP, port} }
func SCTP(name string, port int32) Port { return Port{name, corev1.ProtocolSCTP, port} }

// Import describes a ServiceImport in either API version.
type Import struct {
	Namespace, Name string
	Headless        bool
	IPs             []string
	Families        []corev1.IPFamily
	Ports           []Port
	// TrafficDistribution is spec.trafficDistribution; "" leaves it out.
	TrafficDistribution string
}

// V1beta1 is the ServiceImport as a multicluster.x-k8s.io/v1beta1 object.
func (i Import) V1beta1() *mcsv1beta1.ServiceImport {
	si := &mcsv1beta1.ServiceImport{
		ObjectMeta: metav1.ObjectMeta{Namespace: i.Namespace, Name: i.Name},
		Spec:       mcsv1beta1.ServiceImportSpec{Type: mcsv1beta1.ClusterSetIP, IPs: i.IPs, IPFamilies: i.Families},
	}
	if i.Headless {
		si.Spec.Type = mcsv1beta1.Headless
	}
	if i.TrafficDistribution != "" {
		si.Spec.TrafficDistribution = &i.TrafficDistribution
	}
	for _, p := range i.Ports {
		si.Spec.Ports = append(si.Spec.Ports, mcsv1beta1.ServicePort{Name: p.Name, Protocol: p.Protocol, Port: p.Port})
	}
	return si
}

// V1alpha1 is the ServiceImport as a multicluster.x-k8s.io/v1alpha1 object.
func (i Import) V1alpha1() *mcsv1alpha1.ServiceImport {
	si := &mcsv1alpha1.ServiceImport{
		ObjectMeta: metav1.ObjectMeta{Namespace: i.Namespace, Name: i.Name},
		Spec:       mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.ClusterSetIP, IPs: i.IPs, IPFamilies: i.Families},
	}
	if i.Headless {
		si.Spec.Type = mcsv1alpha1.Headless
	}
	if i.TrafficDistribution != "" {
		si.Spec.TrafficDistribution = &i.TrafficDistribution
	}
	for _, p := range i.Ports {
		si.Spec.Ports = append(si.Spec.Ports, mcsv1alpha1.ServicePort{Name: p.Name, Protocol: p.Protocol, Port: p.Port})
	}
	return si
}

// Endpoint is one endpoint of a slice.
type Endpoint struct {
	Hostname  string // "" for none
	Addresses []string
	// Ready is conditions.ready; nil leaves it absent (which counts as ready).
	Ready       *bool
	Terminating bool
}

// Ready, NotReady, Terminating and Unset build endpoints with those conditions.
func Ready(host string, addrs ...string) Endpoint {
	t := true
	return Endpoint{Hostname: host, Addresses: addrs, Ready: &t}
}

func NotReady(host string, addrs ...string) Endpoint {
	f := false
	return Endpoint{Hostname: host, Addresses: addrs, Ready: &f}
}

func Terminating(host string, addrs ...string) Endpoint {
	f := false
	return Endpoint{Hostname: host, Addresses: addrs, Ready: &f, Terminating: true}
}

func Unset(host string, addrs ...string) Endpoint {
	return Endpoint{Hostname: host, Addresses: addrs}
}

// Slice describes an EndpointSlice exported by a cluster.
type Slice struct {
	Namespace, Name string
	Service         string
	// Cluster is the source-cluster label; "" leaves the label out.
	Cluster     string
	AddressType discovery.AddressType
	Ports       []Port
	Endpoints   []Endpoint
}

// Object is the discovery.k8s.io/v1 EndpointSlice.
func (s Slice) Object() *discovery.EndpointSlice {
	labels := map[string]string{
		mcsv1beta1.LabelServiceName: s.Service,
		discovery.LabelManagedBy:    ManagedBy,
	}
	if s.Cluster != "" {
		labels[mcsv1beta1.LabelSourceCluster] = s.Cluster
	}
	es := &discovery.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: s.Namespace, Name: s.Name, Labels: labels},
		AddressType: s.AddressType,
	}
	if es.AddressType == "" {
		es.AddressType = discovery.AddressTypeIPv4
	}
	for _, p := range s.Ports {
		p := p
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		es.Ports = append(es.Ports, discovery.EndpointPort{Name: &p.Name, Protocol: &proto, Port: &p.Port})
	}
	for _, e := range s.Endpoints {
		ep := discovery.Endpoint{Addresses: e.Addresses, Conditions: discovery.EndpointConditions{Ready: e.Ready}}
		if e.Hostname != "" {
			h := e.Hostname
			ep.Hostname = &h
		}
		if e.Terminating {
			t := true
			ep.Conditions.Terminating = &t
			f := false
			ep.Conditions.Serving = &f
		}
		es.Endpoints = append(es.Endpoints, ep)
	}
	return es
}
