package exporter

import (
	"context"
	"errors"
)

// reconcile brings service key ("namespace/name") in t's cluster in line with the exports of
// all clusters: the ServiceExport's conditions (if t exports it), the ServiceImport, and the
// copies of every exporting cluster's slices. It reads only informer caches; it writes only
// differences.
func (e *exporter) reconcile(ctx context.Context, t *member, key string) error {
	ns, name := splitKey(key)
	st := e.exportsOf(ns, name)
	var want *merged
	if len(st.valid) > 0 {
		m := merge(st.valid)
		want = &m
	}

	var errs []error
	if exp := t.serviceExport(ns, name); exp != nil && exp.DeletionTimestamp == nil {
		errs = append(errs, e.syncExportStatus(ctx, t, exp, st, want))
	}
	if !t.namespaceActive(ns) {
		return errors.Join(errs...)
	}
	// The import first: the plugin creates names from imports only; slices without one
	// serve nothing yet.
	errs = append(errs, e.syncImport(ctx, t, ns, name, want))
	var losing map[string]map[string]bool
	if want != nil {
		losing = losingPorts(st.valid, want.spec.Ports)
	}
	errs = append(errs, e.syncSlices(ctx, t, ns, name, st.clusters(), losing))
	return errors.Join(errs...)
}
