package exporter

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"
)

// Reads of a member's informer caches. Objects from a cache are shared: callers copy before
// they change one. The label checks repeat the informers' selectors, which the fake
// clientsets of the unit tests do not apply to watches.

func (m *member) serviceExport(ns, name string) *mcsv1beta1.ServiceExport {
	obj, ok, _ := m.exports.GetIndexer().GetByKey(ns + "/" + name)
	if !ok {
		return nil
	}
	return obj.(*mcsv1beta1.ServiceExport)
}

func (m *member) serviceImport(ns, name string) *mcsv1beta1.ServiceImport {
	obj, ok, _ := m.imports.GetIndexer().GetByKey(ns + "/" + name)
	if !ok {
		return nil
	}
	return obj.(*mcsv1beta1.ServiceImport)
}

func (m *member) service(ns, name string) *corev1.Service {
	obj, ok, _ := m.services.GetIndexer().GetByKey(ns + "/" + name)
	if !ok {
		return nil
	}
	return obj.(*corev1.Service)
}

// namespaceActive reports whether ns exists and is not being deleted: imports and copies are
// written only there (KEP-1645 "Namespace Sameness"; Cilium skips a missing namespace too).
func (m *member) namespaceActive(ns string) bool {
	obj, ok, _ := m.namespaces.GetIndexer().GetByKey(ns)
	return ok && obj.(*corev1.Namespace).DeletionTimestamp == nil
}

// sourceSlices are the slices of the local Service ns/name.
func (m *member) sourceSlices(ns, name string) []*discoveryv1.EndpointSlice {
	objs, _ := m.sources.GetIndexer().ByIndex(byService, ns+"/"+name)
	var out []*discoveryv1.EndpointSlice
	for _, o := range objs {
		s := o.(*discoveryv1.EndpointSlice)
		if sourceSelector.Matches(labels.Set(s.Labels)) && s.DeletionTimestamp == nil {
			out = append(out, s)
		}
	}
	return out
}

// copySlices are the exporter's copies of ns/name in m, from every source cluster.
func (m *member) copySlices(ns, name string) []*discoveryv1.EndpointSlice {
	objs, _ := m.copies.GetIndexer().ByIndex(byService, ns+"/"+name)
	var out []*discoveryv1.EndpointSlice
	for _, o := range objs {
		s := o.(*discoveryv1.EndpointSlice)
		if copySelector.Matches(labels.Set(s.Labels)) {
			out = append(out, s)
		}
	}
	return out
}

func (e *exporter) member(name string) *member {
	i := slices.IndexFunc(e.members, func(m *member) bool { return m.Name == name })
	return e.members[i]
}

// exportState is what every cluster's ServiceExport of one service amounts to.
type exportState struct {
	valid   []exported            // the clusters that export it, with a Service that can be exported
	invalid map[string]invalidity // the clusters whose ServiceExport cannot be honoured
}

// invalidity is why a ServiceExport is not Valid (KEP-1645 "Exporting Services").
type invalidity struct {
	reason  mcsv1beta1.ServiceExportConditionReason
	message string
}

// exportsOf reads ns/name's exports and Services in every cluster.
func (e *exporter) exportsOf(ns, name string) exportState {
	st := exportState{invalid: map[string]invalidity{}}
	for _, m := range e.members {
		exp := m.serviceExport(ns, name)
		if exp == nil || exp.DeletionTimestamp != nil {
			continue
		}
		svc := m.service(ns, name)
		switch {
		case svc == nil || svc.DeletionTimestamp != nil:
			st.invalid[m.Name] = invalidity{mcsv1beta1.ServiceExportReasonNoService, "Service " + name + " does not exist"}
		case svc.Spec.Type == corev1.ServiceTypeExternalName:
			// An ExternalName Service has no endpoints to export (KEP-1645 "Service Types";
			// the mcs-api conformance suite expects Valid=False, conformance/service_import.go).
			st.invalid[m.Name] = invalidity{mcsv1beta1.ServiceExportReasonInvalidServiceType, "ExternalName Services cannot be exported"}
		default:
			st.valid = append(st.valid, fromService(m.Name, svc, exp))
		}
	}
	return st
}

func (st exportState) clusters() []string {
	var out []string
	for _, x := range st.valid {
		out = append(out, x.cluster)
	}
	return out
}

// deleteOptions deletes only the object that was read (not one recreated under the same
// name since); objects of the fake clientsets have no UID.
func deleteOptions(uid types.UID) metav1.DeleteOptions {
	if uid == "" {
		return metav1.DeleteOptions{}
	}
	return metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}
}

// splitKey splits "namespace/name".
func splitKey(key string) (ns, name string) {
	ns, name, _ = strings.Cut(key, "/")
	return ns, name
}
