package exporter

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"
)

const (
	// labelManagedBy marks the ServiceImports the exporter wrote: only those are deleted when
	// no cluster exports the service any more. An import that someone else created (the
	// mcs-api e2e creates it before exporting, e2e/connectivity_test.go) is adopted while the
	// service is exported and left alone otherwise.
	labelManagedBy = "app.kubernetes.io/managed-by"

	// annotationExportedLabels and annotationExportedAnnotations list the label and
	// annotation keys the exporter set from ServiceExport spec.exportedLabels and
	// spec.exportedAnnotations (KEP-1645 "Labels and Annotations"), so that a key the export
	// no longer names is removed while keys written by others (the mcs-api servicecontroller's
	// multicluster.kubernetes.io/derived-service) are kept.
	annotationExportedLabels      = ManagedBy + "/exported-labels"
	annotationExportedAnnotations = ManagedBy + "/exported-annotations"
)

// The exporter writes ServiceImports as v1beta1, the version the CRDs of mcs-api v0.5.2 store
// and the plugin watches when it is served. The mcs-api servicecontroller reads and updates
// them as v1alpha1: the CRDs have no conversion webhook and, in mcs-api v0.5.2, the two
// versions have the same schema and Go types (ipFamilies, internalTrafficPolicy and
// trafficDistribution included, pkg/apis/v1alpha1 and v1beta1 serviceimport.go), so neither
// version loses a field the other wrote.

// syncImport makes t's ServiceImport of ns/name what want asks for, or removes it (if the
// exporter wrote it) when want is nil. It writes only the fields it owns: spec.ips and the
// derived-service annotation belong to the mcs-api servicecontroller, which writes them with
// full-object updates of its own (controllers/serviceimport.go, controllers/service.go);
// a write that races with it fails with a conflict and is retried on a fresh copy.
func (e *exporter) syncImport(ctx context.Context, t *member, ns, name string, want *merged) error {
	client := t.MCS.MulticlusterV1beta1().ServiceImports(ns)
	cur := t.serviceImport(ns, name)
	if want == nil {
		if cur == nil || cur.Labels[labelManagedBy] != ManagedBy || cur.DeletionTimestamp != nil {
			return nil
		}
		err := client.Delete(ctx, name, deleteOptions(cur.UID))
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("deleting ServiceImport: %w", err)
		}
		e.logf("exporter: %s: deleted ServiceImport %s/%s", t.Name, ns, name)
		return nil
	}

	if cur == nil {
		si := &mcsv1beta1.ServiceImport{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		setOwned(si, want)
		created, err := client.Create(ctx, si, metav1.CreateOptions{})
		switch {
		case err == nil:
			e.logf("exporter: %s: created ServiceImport %s/%s (%s, clusters %v)", t.Name, ns, name, want.spec.Type, want.clusters)
			return e.syncImportStatus(ctx, t, created, want)
		case !apierrors.IsAlreadyExists(err):
			return fmt.Errorf("creating ServiceImport: %w", err)
		}
		// Written a moment ago and not in the cache yet: read it back.
		if cur, err = client.Get(ctx, name, metav1.GetOptions{}); err != nil {
			return fmt.Errorf("reading ServiceImport: %w", err)
		}
	}
	if cur.DeletionTimestamp != nil {
		// Its delete event brings the service back here, to create it anew.
		return nil
	}
	si := cur.DeepCopy()
	if setOwned(si, want) {
		updated, err := client.Update(ctx, si, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("updating ServiceImport: %w", err)
		}
		e.logf("exporter: %s: updated ServiceImport %s/%s", t.Name, ns, name)
		si = updated
	}
	return e.syncImportStatus(ctx, t, si, want)
}

// syncImportStatus writes status.clusters and status.endpointSliceObjects of si.
func (e *exporter) syncImportStatus(ctx context.Context, t *member, si *mcsv1beta1.ServiceImport, want *merged) error {
	// status is a subresource: written apart from the spec, with the rest of it (conditions
	// another controller may set) kept.
	status := si.Status.DeepCopy()
	status.Clusters = nil
	for _, c := range want.clusters {
		status.Clusters = append(status.Clusters, mcsv1beta1.ClusterStatus{Cluster: c})
	}
	status.EndpointSliceObjects = mcsv1beta1.EndpointSliceObjectsPresent
	if apiequality.Semantic.DeepEqual(*status, si.Status) {
		return nil
	}
	si.Status = *status
	if _, err := t.MCS.MulticlusterV1beta1().ServiceImports(si.Namespace).UpdateStatus(ctx, si, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating ServiceImport status: %w", err)
	}
	return nil
}

// setOwned writes the exporter's fields of si and reports whether anything changed.
func setOwned(si *mcsv1beta1.ServiceImport, want *merged) bool {
	before := si.DeepCopy()

	si.Spec.Type = want.spec.Type
	si.Spec.Ports = slices.Clone(want.spec.Ports)
	si.Spec.IPFamilies = slices.Clone(want.spec.IPFamilies)
	si.Spec.SessionAffinity = want.spec.SessionAffinity
	si.Spec.SessionAffinityConfig = want.spec.SessionAffinityConfig.DeepCopy()
	si.Spec.InternalTrafficPolicy = want.spec.InternalTrafficPolicy
	si.Spec.TrafficDistribution = want.spec.TrafficDistribution
	// spec.ips is left alone even when the import turns Headless: the servicecontroller writes
	// it only when the derived Service changes (controllers/service.go), so VIPs cleared here
	// would not come back if the import turned ClusterSetIP again; readers ignore the ips of a
	// Headless import.

	if si.Labels == nil {
		si.Labels = map[string]string{}
	}
	if si.Annotations == nil {
		si.Annotations = map[string]string{}
	}
	reserved := []string{labelManagedBy, annotationExportedLabels, annotationExportedAnnotations}
	setExported(si.Labels, si.Annotations, annotationExportedLabels, want.labels, reserved)
	setExported(si.Annotations, si.Annotations, annotationExportedAnnotations, want.annotations, reserved)
	si.Labels[labelManagedBy] = ManagedBy

	return !apiequality.Semantic.DeepEqual(before.Spec, si.Spec) ||
		!maps.Equal(before.Labels, si.Labels) || !maps.Equal(before.Annotations, si.Annotations)
}

// setExported copies want into dst, removes the keys it set last time that want no longer
// has, and records the keys it set under record in annotations. Reserved keys are never
// taken from an export.
func setExported(dst, annotations map[string]string, record string, want map[string]string, reserved []string) {
	for _, k := range strings.Split(annotations[record], ",") {
		if _, keep := want[k]; k != "" && !keep && !slices.Contains(reserved, k) {
			delete(dst, k)
		}
	}
	var keys []string
	for k, v := range want {
		if slices.Contains(reserved, k) {
			continue
		}
		dst[k] = v
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) == 0 {
		delete(annotations, record)
		return
	}
	annotations[record] = strings.Join(keys, ",")
}
