package exporter

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"
)

// exported is one cluster's valid export of a service: the properties its Service gives the
// ServiceImport, and the age of its ServiceExport, which ranks it in conflicts.
type exported struct {
	cluster     string
	created     metav1.Time // the ServiceExport's creationTimestamp
	spec        mcsv1beta1.ServiceImportSpec
	labels      map[string]string // ServiceExport spec.exportedLabels
	annotations map[string]string // ServiceExport spec.exportedAnnotations
}

// fromService derives what one cluster's export contributes. Headless is a Service with
// clusterIP None (KEP-1645 "Service Types"); the other types that have a ClusterIP export as
// ClusterSetIP. Cilium derives the same fields from the Service
// (pkg/clustermesh/mcsapi/serviceimport_controller.go fromServiceToMCSAPIServiceSpec).
func fromService(cluster string, svc *corev1.Service, exp *mcsv1beta1.ServiceExport) exported {
	typ := mcsv1beta1.ClusterSetIP
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		typ = mcsv1beta1.Headless
	}
	ports := make([]mcsv1beta1.ServicePort, 0, len(svc.Spec.Ports))
	for _, p := range svc.Spec.Ports {
		ports = append(ports, mcsv1beta1.ServicePort{
			Name:        p.Name,
			Protocol:    protocolOf(p.Protocol),
			AppProtocol: clonePtr(p.AppProtocol),
			Port:        p.Port,
		})
	}
	return exported{
		cluster: cluster,
		created: exp.CreationTimestamp,
		spec: mcsv1beta1.ServiceImportSpec{
			Type:                  typ,
			Ports:                 ports,
			SessionAffinity:       svc.Spec.SessionAffinity,
			SessionAffinityConfig: svc.Spec.SessionAffinityConfig.DeepCopy(),
			IPFamilies:            slices.Clone(svc.Spec.IPFamilies),
			InternalTrafficPolicy: clonePtr(svc.Spec.InternalTrafficPolicy),
			TrafficDistribution:   clonePtr(svc.Spec.TrafficDistribution),
		},
		labels:      maps.Clone(exp.Spec.ExportedLabels),
		annotations: maps.Clone(exp.Spec.ExportedAnnotations),
	}
}

// clonePtr copies *p: the Service comes from an informer cache, which must not be shared
// with objects that are changed and written.
func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// protocolOf defaults an empty protocol to TCP, as the API server does for Services.
func protocolOf(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// merged is the ServiceImport that the exports of all clusters ask for.
type merged struct {
	spec        mcsv1beta1.ServiceImportSpec // without ips
	labels      map[string]string
	annotations map[string]string
	clusters    []string // the exporting clusters, sorted

	// conflict is the first property the exports disagree on, with its
	// ServiceExportConditionReason; empty when they agree.
	conflictReason  mcsv1beta1.ServiceExportConditionReason
	conflictMessage string
}

// merge combines the exports of one service, following KEP-1645 "Constraints and Conflict
// Resolution": the exports are ranked by their ServiceExport's creationTimestamp, oldest first
// (ties by cluster name, as Cilium's orderSvcExportByPriority does); the ServiceImport exposes
// the union of the ports; every property that cannot be merged (type, i.e. headlessness,
// session affinity, internal traffic policy, traffic distribution, exported labels and
// annotations, a port name or number used differently) takes the oldest export's value, and
// the conflict is reported on every ServiceExport of the service. Lighthouse
// (pkg/agent/controller/service_import_aggregator.go setServicePorts) and Cilium
// (mergePorts, checkConflictExport) resolve the same way.
//
// ipFamilies is the intersection of the exports' families, skipping a cluster that shares
// none (an IPFamilyConflict): the KEP leaves the families to the implementation, and a
// family only some clusters serve would reach only their endpoints (Cilium's
// intersectIPFamilies gives the same reasoning). A Service without ipFamilies (an API server
// that predates them) does not narrow it.
func merge(exps []exported) merged {
	exps = slices.Clone(exps)
	slices.SortFunc(exps, func(a, b exported) int {
		if !a.created.Equal(&b.created) {
			if a.created.Before(&b.created) {
				return -1
			}
			return 1
		}
		return strings.Compare(a.cluster, b.cluster)
	})
	oldest := exps[0]
	m := merged{
		spec:        *oldest.spec.DeepCopy(),
		labels:      maps.Clone(oldest.labels),
		annotations: maps.Clone(oldest.annotations),
	}
	for _, x := range exps {
		m.clusters = append(m.clusters, x.cluster)
	}
	slices.Sort(m.clusters)

	conflict := func(reason mcsv1beta1.ServiceExportConditionReason, format string, args ...any) {
		if m.conflictReason == "" {
			m.conflictReason = reason
			m.conflictMessage = fmt.Sprintf(format, args...)
		}
	}

	ports, msg := mergePorts(exps)
	m.spec.Ports = ports
	if msg != "" {
		conflict(mcsv1beta1.ServiceExportReasonPortConflict, "%s", msg)
	}
	families, msg := intersectFamilies(exps)
	m.spec.IPFamilies = families
	if msg != "" {
		conflict(mcsv1beta1.ServiceExportReasonIPFamilyConflict, "%s", msg)
	}

	for _, x := range exps[1:] {
		for _, p := range properties {
			if !p.equal(oldest, x) {
				conflict(p.reason, "Conflicting %s: cluster %q differs from the oldest export, in cluster %q, whose value is used.",
					p.name, x.cluster, oldest.cluster)
			}
		}
	}
	return m
}

// properties are the fields that cannot be merged: the oldest export's value wins.
var properties = []struct {
	name   string
	reason mcsv1beta1.ServiceExportConditionReason
	equal  func(a, b exported) bool
}{
	{"type", mcsv1beta1.ServiceExportReasonTypeConflict, func(a, b exported) bool { return a.spec.Type == b.spec.Type }},
	{"sessionAffinity", mcsv1beta1.ServiceExportReasonSessionAffinityConflict, func(a, b exported) bool {
		return a.spec.SessionAffinity == b.spec.SessionAffinity
	}},
	{"sessionAffinityConfig", mcsv1beta1.ServiceExportReasonSessionAffinityConfigConflict, func(a, b exported) bool {
		return apiequality.Semantic.DeepEqual(a.spec.SessionAffinityConfig, b.spec.SessionAffinityConfig)
	}},
	{"internalTrafficPolicy", mcsv1beta1.ServiceExportReasonInternalTrafficPolicyConflict, func(a, b exported) bool {
		return ptrEqual(a.spec.InternalTrafficPolicy, b.spec.InternalTrafficPolicy)
	}},
	{"trafficDistribution", mcsv1beta1.ServiceExportReasonTrafficDistributionConflict, func(a, b exported) bool {
		return ptrEqual(a.spec.TrafficDistribution, b.spec.TrafficDistribution)
	}},
	{"exported labels", mcsv1beta1.ServiceExportReasonLabelsConflict, func(a, b exported) bool { return maps.Equal(a.labels, b.labels) }},
	{"exported annotations", mcsv1beta1.ServiceExportReasonAnnotationsConflict, func(a, b exported) bool {
		return maps.Equal(a.annotations, b.annotations)
	}},
}

func ptrEqual[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// mergePorts is the union of the exports' ports, oldest export first. A port is the same port
// in two clusters when its number and protocol match; a later port whose name the union
// already uses for another number or protocol, or whose number and protocol the union already
// has under another name or appProtocol, loses to the older one (KEP-1645 "Service Port").
// Any difference between an export's ports and the union is reported, as the mcs-api
// conformance suite expects ("should expose the union of the constituent service ports and
// raise a conflict", conformance/service_import.go).
func mergePorts(exps []exported) ([]mcsv1beta1.ServicePort, string) {
	union := []mcsv1beta1.ServicePort{}
	owner := map[int]string{} // index in union → cluster
	msg := ""
	note := func(format string, args ...any) {
		if msg == "" {
			msg = fmt.Sprintf(format, args...)
		}
	}
	for _, x := range exps {
		for _, p := range x.spec.Ports {
			byName := slices.IndexFunc(union, func(u mcsv1beta1.ServicePort) bool { return u.Name == p.Name })
			bySocket := slices.IndexFunc(union, func(u mcsv1beta1.ServicePort) bool {
				return u.Port == p.Port && u.Protocol == p.Protocol
			})
			switch {
			case byName >= 0 && byName != bySocket:
				note("Port name %q of cluster %q is used for %d/%s by the older export in cluster %q, which is kept.",
					p.Name, x.cluster, union[byName].Port, union[byName].Protocol, owner[byName])
			case bySocket >= 0 && (union[bySocket].Name != p.Name || !ptrEqual(union[bySocket].AppProtocol, p.AppProtocol)):
				note("Port %d/%s of cluster %q differs in name or appProtocol from the older export in cluster %q, which is kept.",
					p.Port, p.Protocol, x.cluster, owner[bySocket])
			case bySocket < 0:
				owner[len(union)] = x.cluster
				union = append(union, p)
			}
		}
	}
	if msg == "" {
		for _, x := range exps {
			if len(x.spec.Ports) != len(union) {
				note("The ports of cluster %q differ from those of the other exports; the union is exposed.", x.cluster)
			}
		}
	}
	return union, msg
}

// intersectFamilies is the set of IP families every export serves, in the oldest export's
// order; see merge.
func intersectFamilies(exps []exported) ([]corev1.IPFamily, string) {
	var families []corev1.IPFamily
	started := false
	msg := ""
	for _, x := range exps {
		if len(x.spec.IPFamilies) == 0 {
			continue
		}
		if !started {
			families, started = slices.Clone(x.spec.IPFamilies), true
			continue
		}
		common := slices.DeleteFunc(slices.Clone(families), func(f corev1.IPFamily) bool {
			return !slices.Contains(x.spec.IPFamilies, f)
		})
		if len(common) == 0 {
			if msg == "" {
				msg = fmt.Sprintf("Cluster %q shares no IP family with the older exports (%v); it is left out of ipFamilies.", x.cluster, families)
			}
			continue
		}
		families = common
	}
	return families, msg
}
