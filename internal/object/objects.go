package multicluster

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
	// labelServiceName ties an EndpointSlice to its ServiceImport (KEP-1645).
	labelServiceName = mcsv1beta1.LabelServiceName
	// labelSourceCluster names the exporting cluster of an EndpointSlice (KEP-1645).
	labelSourceCluster = mcsv1beta1.LabelSourceCluster
)

// family is a bit set of IP families.
type family uint8

const (
	familyV4 family = 1 << iota
	familyV6
)

func familyOf(a netip.Addr) family {
	if a.Is4() {
		return familyV4
	}
	return familyV6
}

// port is a service or endpoint port. proto is lower case ("tcp", "udp", "sctp"), the
// way it appears in SRV names (RFC 2782).
type port struct {
	name  string
	proto string
	port  uint16
}

// serviceImport is the trimmed form of a ServiceImport of either API version.
type serviceImport struct {
	metaStub
	namespace string
	name      string
	headless  bool
	// ips are the parsed, valid VIPs in spec order; invalid ones are dropped with a log line.
	ips []netip.Addr
	// families are the families answers may contain (spec.ipFamilies, or the families of ips).
	families family
	ports    []port
	// ignored: the import creates no names. It is an implementation's per-cluster
	// bookkeeping (compat.go), or its name is not a DNS label.
	ignored bool
	// vipsFromSlices: a ClusterSetIP import without ips whose addresses are the ready
	// endpoints of its slices (the vips_from_slices option, compat.go).
	vipsFromSlices bool
	// clusters are the ids of status.clusters, lower case; nil when the status lists
	// none (some implementations never write it).
	clusters []string
	// preferLocal: spec.trafficDistribution asks for close endpoints (see locality.go).
	preferLocal bool
	// bad counts the fields that were dropped because they were malformed, by reason.
	bad []skip
}

// endpointSlice is the trimmed form of a discovery/v1 EndpointSlice that belongs to a
// ServiceImport (it carries the multicluster.kubernetes.io/service-name label).
type endpointSlice struct {
	metaStub
	namespace string
	name      string
	service   string
	// cluster is the source-cluster label, lower case; empty when the label is missing.
	cluster   string
	family    family
	ports     []port
	endpoints []endpoint
	bad       []skip
}

// endpoint is a ready endpoint address; not-ready and terminating endpoints are never
// stored (spec §1: ready means conditions.ready true or absent).
type endpoint struct {
	addr netip.Addr
	// hostname is the endpoint's hostname, lower case, or empty.
	hostname string
}

// skip records a malformed value that was left out, so the controller can log it and
// count it once per object version.
type skip struct {
	reason string
	value  string
}

// Reasons a value is skipped; they are also the values of the "reason" label of
// coredns_multicluster_skipped_total, so keep the set small.
const (
	reasonBadIP       = "bad_ip"
	reasonBadFamily   = "unknown_family"
	reasonBadProto    = "unknown_protocol"
	reasonBadPort     = "bad_port"
	reasonBadHostname = "bad_hostname"
	reasonBadCluster  = "bad_cluster_id"
	reasonNoCluster   = "missing_cluster_id"
	reasonLongName    = "name_too_long"
	reasonTooMany     = "too_many_addresses"
	reasonBadName     = "bad_service_name"
)

func importFromV1beta1(si *mcsv1beta1.ServiceImport, o importOptions) *serviceImport {
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

func importFromV1alpha1(si *mcsv1alpha1.ServiceImport, o importOptions) *serviceImport {
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
func (s *serviceImport) classify(labels, annotations map[string]string, clusters []string, trafficDistribution *string, o importOptions) {
	s.clusters = statusClusters(clusters)
	s.preferLocal = prefersClose(trafficDistribution)
	switch {
	case isBookkeeping(labels, annotations):
		// Not malformed, and there is one per exporting cluster and service: no log.
		*s = serviceImport{metaStub: s.metaStub, namespace: s.namespace, name: s.name, ignored: true}
		return
	case !isLabel(s.name):
		// The API server accepts names of up to 253 characters with dots; DNS takes
		// one label of at most 63 here (RFC 1035 §2.3.4), and a dotted name would put
		// names in AXFR that queries cannot reach.
		s.bad = append(s.bad, skip{reasonBadName, s.name})
		s.ignored = true
		return
	}
	s.vipsFromSlices = o.vipsFromSlices && !s.headless && len(s.ips) == 0
}

func trimImport(ns, name, rv string, headless bool, ips []string, families []corev1.IPFamily, ports []mcsv1alpha1.ServicePort) *serviceImport {
	s := &serviceImport{metaStub: metaStub{rv: rv}, namespace: ns, name: name, headless: headless}
	present := family(0)
	for _, ip := range ips {
		if ip == clusterIPNone {
			continue
		}
		a, err := netip.ParseAddr(ip)
		if err != nil || a.Zone() != "" {
			s.bad = append(s.bad, skip{reasonBadIP, ip})
			continue
		}
		a = a.Unmap()
		s.ips = append(s.ips, a)
		present |= familyOf(a)
	}
	for _, f := range families {
		switch f {
		case corev1.IPv4Protocol:
			s.families |= familyV4
		case corev1.IPv6Protocol:
			s.families |= familyV6
		default:
			s.bad = append(s.bad, skip{reasonBadFamily, string(f)})
		}
	}
	// Spec R2: without ipFamilies the families present in ips count; a headless import
	// has no ips, so every family its slices carry counts.
	if s.families == 0 {
		s.families = present
		if headless || len(s.ips) == 0 {
			s.families = familyV4 | familyV6
		}
	}
	for _, p := range ports {
		tp, ok := trimPort(p.Name, p.Protocol, p.Port)
		if !ok {
			s.bad = append(s.bad, skip{badPortReason(p.Protocol), p.Name})
			continue
		}
		s.ports = append(s.ports, tp)
	}
	return s
}

func trimPort(name string, proto corev1.Protocol, number int32) (port, bool) {
	p := port{name: strings.ToLower(name), port: uint16(number)}
	switch proto {
	case corev1.ProtocolTCP, "":
		p.proto = "tcp"
	case corev1.ProtocolUDP:
		p.proto = "udp"
	case corev1.ProtocolSCTP:
		p.proto = "sctp"
	default:
		return p, false
	}
	if number < 1 || number > 65535 || (p.name != "" && !isLabel(p.name)) {
		return p, false
	}
	return p, true
}

func badPortReason(proto corev1.Protocol) string {
	switch proto {
	case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP, "":
		return reasonBadPort
	}
	return reasonBadProto
}

func sliceFromDiscovery(es *discovery.EndpointSlice) *endpointSlice {
	s := &endpointSlice{
		metaStub:  metaStub{rv: es.ResourceVersion},
		namespace: es.Namespace,
		name:      es.Name,
		service:   es.Labels[labelServiceName],
	}
	if isInactive(es.Labels) {
		// KEP-5939: deselected; kept (empty) so that the service is rebuilt when the
		// label flips.
		return s
	}
	switch es.AddressType {
	case discovery.AddressTypeIPv4:
		s.family = familyV4
	case discovery.AddressTypeIPv6:
		s.family = familyV6
	default:
		// FQDN slices carry no addresses this plugin can serve (spec §1).
		return s
	}
	if c, ok := es.Labels[labelSourceCluster]; ok && c != "" {
		c = strings.ToLower(c)
		if isSubdomain(c) {
			s.cluster = c
		} else {
			s.bad = append(s.bad, skip{reasonBadCluster, c})
		}
	} else {
		s.bad = append(s.bad, skip{reasonNoCluster, ""})
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
			s.bad = append(s.bad, skip{badPortReason(proto), name})
			continue
		}
		s.ports = append(s.ports, tp)
	}
	for i := range es.Endpoints {
		e := &es.Endpoints[i]
		if e.Conditions.Ready != nil && !*e.Conditions.Ready {
			continue
		}
		host := ""
		if e.Hostname != nil && *e.Hostname != "" {
			host = strings.ToLower(*e.Hostname)
			if !isLabel(host) {
				// Only the name is wrong: the endpoint keeps serving the service name
				// and SRV under its address-derived name (spec R6).
				s.bad = append(s.bad, skip{reasonBadHostname, host})
				host = ""
			}
		}
		for _, ip := range e.Addresses {
			a, err := netip.ParseAddr(ip)
			if err != nil || a.Zone() != "" {
				s.bad = append(s.bad, skip{reasonBadIP, ip})
				continue
			}
			a = a.Unmap()
			if familyOf(a) != s.family {
				s.bad = append(s.bad, skip{reasonBadIP, ip})
				continue
			}
			s.endpoints = append(s.endpoints, endpoint{addr: a, hostname: host})
		}
	}
	return s
}

// transformImport is the store transform for ServiceImports of both versions, with
// the default options.
func transformImport(obj any) (any, error) { return importOptions{}.transform(obj) }

// transform is the store transform for ServiceImports of both versions.
func (o importOptions) transform(obj any) (any, error) {
	switch si := obj.(type) {
	case *mcsv1beta1.ServiceImport:
		return importFromV1beta1(si, o), nil
	case *mcsv1alpha1.ServiceImport:
		return importFromV1alpha1(si, o), nil
	}
	// Already trimmed, or a tombstone holding a trimmed object.
	return obj, nil
}

// transformSlice is the store transform for EndpointSlices.
func transformSlice(obj any) (any, error) {
	if o, ok := obj.(*discovery.EndpointSlice); ok {
		return sliceFromDiscovery(o), nil
	}
	return obj, nil
}

// GetNamespace implements metav1.Object for the reflector and the store.
func (s *serviceImport) GetNamespace() string { return s.namespace }

// GetName implements metav1.Object for the reflector and the store.
func (s *serviceImport) GetName() string { return s.name }

// DeepCopyObject implements runtime.Object; trimmed objects are never mutated after the
// transform, so sharing them is safe.
func (s *serviceImport) DeepCopyObject() runtime.Object { return s }

// GetNamespace implements metav1.Object for the reflector and the store.
func (s *endpointSlice) GetNamespace() string { return s.namespace }

// GetName implements metav1.Object for the reflector and the store.
func (s *endpointSlice) GetName() string { return s.name }

// DeepCopyObject implements runtime.Object; see serviceImport.DeepCopyObject.
func (s *endpointSlice) DeepCopyObject() runtime.Object { return s }

// GetObjectKind implements runtime.Object.
func (metaStub) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }
