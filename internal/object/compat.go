package object

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// What the MCS implementations write, and how it maps to what this plugin serves. The
// decisions are taken once, when objects are trimmed (objects.go): the records are
// built from the trimmed objects without knowing which implementation wrote them.

const (
	// LabelActive is the proposed KEP-5939 cluster-selection label: a slice labelled
	// "false" is not to be served; absent or "true" is.
	LabelActive = "multicluster.kubernetes.io/active"

	// Submariner Lighthouse (submariner-io/lighthouse pkg/agent/controller) keeps, next to
	// the aggregated ServiceImport of a service, per-cluster ServiceImports named
	// "<svc>-<ns>-<cluster>" in its own namespace: agent.go newServiceImport labels
	// them with the MCS source-cluster label; the legacy ones (Lighthouse <= 0.14,
	// service_import_migrator.go and its test's newLegacyServiceImport) carry the
	// sourceCluster label and the origin-name/origin-namespace annotations. They are
	// bookkeeping, not services of the ClusterSet.
	LabelLighthouseLegacyCluster   = "lighthouse.submariner.io/sourceCluster"
	AnnotationLighthouseOriginName = "origin-name"

	// clusterIPNone is the "None" ClusterIP of a headless Service, which the AWS Cloud Map
	// controller copies into ips once per exporting cluster
	// (aws-cloud-map-mcs-controller-for-k8s pkg/controllers/multicluster/utils.go
	// GetClusterIpsFromServices): not an address, and not worth a log line.
	clusterIPNone = "None"
)

// ImportOptions are the Corefile settings that change how imports are read.
type ImportOptions struct {
	// VIPsFromSlices: a ClusterSetIP import without ips takes its addresses from the
	// ready endpoints of its slices (Lighthouse writes each cluster's Service VIP there).
	VIPsFromSlices bool
}

// isBookkeeping reports whether a ServiceImport is a per-cluster copy kept by an
// implementation for itself rather than a service of the ClusterSet. The aggregated
// imports that name a service never carry a source cluster: only slices do (KEP-1645).
func isBookkeeping(labels, annotations map[string]string) bool {
	if _, ok := labels[LabelSourceCluster]; ok {
		return true
	}
	if _, ok := labels[LabelLighthouseLegacyCluster]; ok {
		return true
	}
	_, ok := annotations[AnnotationLighthouseOriginName]
	return ok
}

// isInactive reports whether a slice is switched off by cluster selection (KEP-5939):
// consumers select active!=false, so only the exact value "false" counts.
func isInactive(labels map[string]string) bool {
	return labels[LabelActive] == "false"
}

// statusClusters returns the cluster ids of status.clusters, lower case, or nil.
func statusClusters(ids []string) []string {
	var out []string
	for _, c := range ids {
		if c = strings.ToLower(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// PrefersClose reports whether a trafficDistribution value asks for close endpoints.
// The values are those of Service.spec.trafficDistribution (k8s.io/api core/v1,
// types.go), which ServiceImport's field mirrors (mcs-api pkg/apis/v1beta1/serviceimport.go).
func PrefersClose(td *string) bool {
	if td == nil {
		return false
	}
	switch *td {
	case corev1.ServiceTrafficDistributionPreferClose,
		corev1.ServiceTrafficDistributionPreferSameZone,
		corev1.ServiceTrafficDistributionPreferSameNode:
		return true
	}
	return false
}
