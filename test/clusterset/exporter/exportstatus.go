package exporter

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"
)

// syncExportStatus sets the conditions of t's ServiceExport exp (KEP-1645 "Exporting
// Services", "Conflict Resolution Policy"): Valid (False when the Service is missing or an
// ExternalName), Ready, and Conflict (True on every export of a service whose exports
// disagree, with the first disagreement; the mcs-api conformance suite waits for it on both
// clusters, conformance/service_import.go). Cilium sets the same three
// (pkg/clustermesh/mcsapi/serviceimport_controller.go Reconcile). Unchanged conditions are
// not written again: meta.SetStatusCondition keeps their lastTransitionTime.
func (e *exporter) syncExportStatus(ctx context.Context, t *member, exp *mcsv1beta1.ServiceExport,
	st exportState, want *merged) error {
	upd := exp.DeepCopy()
	conds := &upd.Status.Conditions
	set := func(typ mcsv1beta1.ServiceExportConditionType, status metav1.ConditionStatus,
		reason mcsv1beta1.ServiceExportConditionReason, msg string) bool {
		c := mcsv1beta1.NewServiceExportCondition(typ, status, reason, msg)
		c.ObservedGeneration = exp.Generation
		return meta.SetStatusCondition(conds, c)
	}

	changed := false
	if inv, ok := st.invalid[t.Name]; ok {
		changed = set(mcsv1beta1.ServiceExportConditionValid, metav1.ConditionFalse, inv.reason, inv.message) || changed
		changed = set(mcsv1beta1.ServiceExportConditionReady, metav1.ConditionFalse, mcsv1beta1.ServiceExportReasonPending,
			"The ServiceExport is not valid") || changed
		changed = meta.RemoveStatusCondition(conds, string(mcsv1beta1.ServiceExportConditionConflict)) || changed
	} else if want != nil {
		changed = set(mcsv1beta1.ServiceExportConditionValid, metav1.ConditionTrue, mcsv1beta1.ServiceExportReasonValid,
			"The Service can be exported") || changed
		changed = set(mcsv1beta1.ServiceExportConditionReady, metav1.ConditionTrue, mcsv1beta1.ServiceExportReasonReady,
			fmt.Sprintf("The service is exported by %v", want.clusters)) || changed
		if want.conflictReason != "" {
			changed = set(mcsv1beta1.ServiceExportConditionConflict, metav1.ConditionTrue, want.conflictReason,
				want.conflictMessage) || changed
		} else {
			changed = set(mcsv1beta1.ServiceExportConditionConflict, metav1.ConditionFalse, mcsv1beta1.ServiceExportReasonNoConflicts,
				"The exports of this service agree") || changed
		}
	}
	if !changed {
		return nil
	}
	if _, err := t.MCS.MulticlusterV1beta1().ServiceExports(exp.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating ServiceExport status: %w", err)
	}
	return nil
}
