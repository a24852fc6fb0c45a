// Package object holds the trimmed forms of ServiceImports and EndpointSlices that the
// plugin's stores keep and its records are built from, with their validation and
// names. It knows the Kubernetes and MCS API types, nothing of DNS or of the watches.
package object

import (
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"
)

// The informers store these trimmed structs instead of the API objects (see the
// transform functions below): they hold only what answers need, so a ClusterSet with
// 100k endpoints costs a few bytes per endpoint rather than a few kilobytes.

const (
	// LabelServiceName ties an EndpointSlice to its ServiceImport (KEP-1645).
	LabelServiceName = mcsv1beta1.LabelServiceName
	// LabelSourceCluster names the exporting cluster of an EndpointSlice (KEP-1645).
	LabelSourceCluster = mcsv1beta1.LabelSourceCluster
)

// Family is a bit set of IP families.
type Family uint8

// The IP families.
const (
	FamilyV4 Family = 1 << iota
	FamilyV6
)

// FamilyOf returns the family of an address.
func FamilyOf(a netip.Addr) Family {
	if a.Is4() {
		return FamilyV4
	}
	return FamilyV6
}

// Port is a service or endpoint port. Proto is lower case ("tcp", "udp", "sctp"), the
// way it appears in SRV names (RFC 2782).
type Port struct {
	Name  string
	Proto string
	Port  uint16
}

// ServiceImport is the trimmed form of a ServiceImport of either API version.
type ServiceImport struct {
	Meta
	Namespace string
	Name      string
	Headless  bool
	// IPs are the parsed, valid VIPs in spec order; invalid ones are dropped with a log line.
	IPs []netip.Addr
	// Families are the families answers may contain (spec.ipFamilies, or the families of IPs).
	Families Family
	Ports    []Port
	// Ignored: the import creates no names. It is an implementation's per-cluster
	// bookkeeping (compat.go), or its name is not a DNS label.
	Ignored bool
	// VIPsFromSlices: a ClusterSetIP import without IPs whose addresses are the ready
	// endpoints of its slices (the vips_from_slices option, compat.go).
	VIPsFromSlices bool
	// Clusters are the ids of status.clusters, lower case; nil when the status lists
	// none (some implementations never write it).
	Clusters []string
	// PreferLocal: spec.trafficDistribution asks for close endpoints (see locality.go
	// in the plugin).
	PreferLocal bool
	// Bad counts the fields that were dropped because they were malformed, by reason.
	Bad []Skip
}

// EndpointSlice is the trimmed form of a discovery/v1 EndpointSlice that belongs to a
// ServiceImport (it carries the multicluster.kubernetes.io/service-name label).
type EndpointSlice struct {
	Meta
	Namespace string
	Name      string
	Service   string
	// Cluster is the source-cluster label, lower case; empty when the label is missing.
	Cluster   string
	Family    Family
	Ports     []Port
	Endpoints []Endpoint
	Bad       []Skip
}

// Endpoint is a ready endpoint address; not-ready and terminating endpoints are never
// stored (spec §1: ready means conditions.ready true or absent).
type Endpoint struct {
	Addr netip.Addr
	// Hostname is the endpoint's hostname, lower case, or empty.
	Hostname string
}

// Skip records a malformed value that was left out, so the controller can log it and
// count it once per object version.
type Skip struct {
	Reason string
	Value  string
}

// Reasons a value is skipped; they are also the values of the "reason" label of
// coredns_multicluster_skipped_total, so keep the set small.
const (
	ReasonBadIP       = "bad_ip"
	ReasonBadFamily   = "unknown_family"
	ReasonBadProto    = "unknown_protocol"
	ReasonBadPort     = "bad_port"
	ReasonBadHostname = "bad_hostname"
	ReasonBadCluster  = "bad_cluster_id"
	ReasonNoCluster   = "missing_cluster_id"
	ReasonLongName    = "name_too_long"
	ReasonTooMany     = "too_many_addresses"
	ReasonBadName     = "bad_service_name"
)

func importFromV1beta1(si *mcsv1beta1.ServiceImport, o ImportOptions) *ServiceImport {
	ports := make([]mcsv1alpha1.ServicePort, len(si.Spec.Ports))
	for i, p := range si.Spec.Ports {
		ports[i] = mcsv1alpha1.ServicePort{Name: p.Name, Protocol: p.Protocol, Port: p.Port}
	}
	clusters := make([]string, len(si.Status.Clusters))
	for i, c := range si.Status.Clusters {
		clusters[i] = c.Cluster
	}
	s := trimImport(si.Namespace, si.Name, si.ResourceVersion, si.Spec.Type == mcsv1beta1.Headless,
		si.Spec.IPs, si.Spec.IPFamilies, ports)
	s.classify(si.Labels, si.Annotations, clusters, si.Spec.TrafficDistribution, o)
	return s
}

func importFromV1alpha1(si *mcsv1alpha1.ServiceImport, o ImportOptions) *ServiceImport {
	clusters := make([]string, len(si.Status.Clusters))
	for i, c := range si.Status.Clusters {
		clusters[i] = c.Cluster
	}
	s := trimImport(si.Namespace, si.Name, si.ResourceVersion, si.Spec.Type == mcsv1alpha1.Headless,
		si.Spec.IPs, si.Spec.IPFamilies, si.Spec.Ports)
	s.classify(si.Labels, si.Annotations, clusters, si.Spec.TrafficDistribution, o)
	return s
}

// classify decides what the import is to this plugin (compat.go): a service of the
// ClusterSet, per-cluster bookkeeping, or a name DNS cannot carry, and how it is
// answered (vips_from_slices, locality).
func (s *ServiceImport) classify(labels, annotations map[string]string, clusters []string, trafficDistribution *string, o ImportOptions) {
	s.Clusters = statusClusters(clusters)
	s.PreferLocal = PrefersClose(trafficDistribution)
	switch {
	case isBookkeeping(labels, annotations):
		// Not malformed, and there is one per exporting cluster and service: no log.
		*s = ServiceImport{Meta: s.Meta, Namespace: s.Namespace, Name: s.Name, Ignored: true}
		return
	case !IsLabel(s.Name):
		// The API server accepts names of up to 253 characters with dots; DNS takes
		// one label of at most 63 here (RFC 1035 §2.3.4), and a dotted name would put
		// names in AXFR that queries cannot reach.
		s.Bad = append(s.Bad, Skip{ReasonBadName, s.Name})
		s.Ignored = true
		return
	}
	s.VIPsFromSlices = o.VIPsFromSlices && !s.Headless && len(s.IPs) == 0
}

func trimImport(ns, name, rv string, headless bool, ips []string, families []corev1.IPFamily, ports []mcsv1alpha1.ServicePort) *ServiceImport {
	s := &ServiceImport{Meta: Meta{ResourceVersion: rv}, Namespace: ns, Name: name, Headless: headless}
	present := Family(0)
	for _, ip := range ips {
		if ip == clusterIPNone {
			continue
		}
		a, err := netip.ParseAddr(ip)
		if err != nil || a.Zone() != "" {
			s.Bad = append(s.Bad, Skip{ReasonBadIP, ip})
			continue
		}
		a = a.Unmap()
		s.IPs = append(s.IPs, a)
		present |= FamilyOf(a)
	}
	for _, f := range families {
		switch f {
		case corev1.IPv4Protocol:
			s.Families |= FamilyV4
		case corev1.IPv6Protocol:
			s.Families |= FamilyV6
		default:
			s.Bad = append(s.Bad, Skip{ReasonBadFamily, string(f)})
		}
	}
	// Spec R2: without ipFamilies the families present in ips count; a headless import
	// has no ips, so every family its slices carry counts.
	if s.Families == 0 {
		s.Families = present
		if headless || len(s.IPs) == 0 {
			s.Families = FamilyV4 | FamilyV6
		}
	}
	for _, p := range ports {
		tp, ok := trimPort(p.Name, p.Protocol, p.Port)
		if !ok {
			s.Bad = append(s.Bad, Skip{badPortReason(p.Protocol), p.Name})
			continue
		}
		s.Ports = append(s.Ports, tp)
	}
	return s
}

func trimPort(name string, proto corev1.Protocol, number int32) (Port, bool) {
	p := Port{Name: strings.ToLower(name), Port: uint16(number)}
	switch proto {
	case corev1.ProtocolTCP, "":
		p.Proto = "tcp"
	case corev1.ProtocolUDP:
		p.Proto = "udp"
	case corev1.ProtocolSCTP:
		p.Proto = "sctp"
	default:
		return p, false
	}
	if number < 1 || number > 65535 || (p.Name != "" && !IsLabel(p.Name)) {
		return p, false
	}
	return p, true
}

func badPortReason(proto corev1.Protocol) string {
	switch proto {
	case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP, "":
		return ReasonBadPort
	}
	return ReasonBadProto
}

func SliceFromDiscovery(es *discovery.EndpointSlice) *EndpointSlice {
	s := &EndpointSlice{
		Meta:      Meta{ResourceVersion: es.ResourceVersion},
		Namespace: es.Namespace,
		Name:      es.Name,
		Service:   es.Labels[LabelServiceName],
	}
	if isInactive(es.Labels) {
		// KEP-5939: deselected; kept (empty) so that the service is rebuilt when the
		// label flips.
		return s
	}
	switch es.AddressType {
	case discovery.AddressTypeIPv4:
		s.Family = FamilyV4
	case discovery.AddressTypeIPv6:
		s.Family = FamilyV6
	default:
		// FQDN slices carry no addresses this plugin can serve (spec §1).
		return s
	}
	if c, ok := es.Labels[LabelSourceCluster]; ok && c != "" {
		c = strings.ToLower(c)
		if IsSubdomain(c) {
			s.Cluster = c
		} else {
			s.Bad = append(s.Bad, Skip{ReasonBadCluster, c})
		}
	} else {
		s.Bad = append(s.Bad, Skip{ReasonNoCluster, ""})
	}
	for _, p := range es.Ports {
		var (
			name   string
			proto  corev1.Protocol
			number int32
		)
		if p.Name != nil {
			name = *p.Name
		}
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		if p.Port != nil {
			number = *p.Port
		}
		tp, ok := trimPort(name, proto, number)
		if !ok {
			s.Bad = append(s.Bad, Skip{badPortReason(proto), name})
			continue
		}
		s.Ports = append(s.Ports, tp)
	}
	for i := range es.Endpoints {
		e := &es.Endpoints[i]
		if e.Conditions.Ready != nil && !*e.Conditions.Ready {
			continue
		}
		host := ""
		if e.Hostname != nil && *e.Hostname != "" {
			host = strings.ToLower(*e.Hostname)
			if !IsLabel(host) {
				// Only the name is wrong: the endpoint keeps serving the service name
				// and SRV under its address-derived name (spec R6).
				s.Bad = append(s.Bad, Skip{ReasonBadHostname, host})
				host = ""
			}
		}
		for _, ip := range e.Addresses {
			a, err := netip.ParseAddr(ip)
			if err != nil || a.Zone() != "" {
				s.Bad = append(s.Bad, Skip{ReasonBadIP, ip})
				continue
			}
			a = a.Unmap()
			if FamilyOf(a) != s.Family {
				s.Bad = append(s.Bad, Skip{ReasonBadIP, ip})
				continue
			}
			s.Endpoints = append(s.Endpoints, Endpoint{Addr: a, Hostname: host})
		}
	}
	return s
}

// TransformImport is the store transform for ServiceImports of both versions, with
// the default options.
func TransformImport(obj any) (any, error) { return ImportOptions{}.Transform(obj) }

// Transform is the store transform for ServiceImports of both versions.
func (o ImportOptions) Transform(obj any) (any, error) {
	switch si := obj.(type) {
	case *mcsv1beta1.ServiceImport:
		return importFromV1beta1(si, o), nil
	case *mcsv1alpha1.ServiceImport:
		return importFromV1alpha1(si, o), nil
	}
	// Already trimmed, or a tombstone holding a trimmed object.
	return obj, nil
}

// TransformSlice is the store transform for EndpointSlices.
func TransformSlice(obj any) (any, error) {
	if o, ok := obj.(*discovery.EndpointSlice); ok {
		return SliceFromDiscovery(o), nil
	}
	return obj, nil
}

// GetNamespace implements metav1.Object for the reflector and the store.
func (s *ServiceImport) GetNamespace() string { return s.Namespace }

// GetName implements metav1.Object for the reflector and the store.
func (s *ServiceImport) GetName() string { return s.Name }

// DeepCopyObject implements runtime.Object; trimmed objects are never mutated after the
// transform, so sharing them is safe.
func (s *ServiceImport) DeepCopyObject() runtime.Object { return s }

// GetNamespace implements metav1.Object for the reflector and the store.
func (s *EndpointSlice) GetNamespace() string { return s.Namespace }

// GetName implements metav1.Object for the reflector and the store.
func (s *EndpointSlice) GetName() string { return s.Name }

// DeepCopyObject implements runtime.Object; see ServiceImport.DeepCopyObject.
func (s *EndpointSlice) DeepCopyObject() runtime.Object { return s }

// GetObjectKind implements runtime.Object.
func (Meta) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

// HasPort reports whether the ServiceImport declares the named port p: only those get
// a "_<port>._<proto>" name (spec R7).
func (si *ServiceImport) HasPort(p Port) bool {
	for _, q := range si.Ports {
		if q.Name == p.Name && q.Proto == p.Proto {
			return true
		}
	}
	return false
}
