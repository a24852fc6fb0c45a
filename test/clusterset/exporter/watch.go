package exporter

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	coreinformers "k8s.io/client-go/informers/core/v1"
	discoveryinformers "k8s.io/client-go/informers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"
	mcsinformers "sigs.k8s.io/mcs-api/pkg/client/informers/externalversions/apis/v1beta1"
)

// byService indexes slices by "namespace/service" of the label that names their service.
const byService = "service"

// member is one cluster: its clients, its informers and its work queue.
type member struct {
	Cluster

	exports    cache.SharedIndexInformer // ServiceExports (v1beta1)
	imports    cache.SharedIndexInformer // ServiceImports (v1beta1), whoever wrote them
	services   cache.SharedIndexInformer // Services
	sources    cache.SharedIndexInformer // the slices kube-controller-manager (or another local controller) wrote
	copies     cache.SharedIndexInformer // the slices the exporter wrote
	namespaces cache.SharedIndexInformer

	queue workqueue.TypedRateLimitingInterface[string]
}

// Label selectors of the two slice informers. Sources are the slices of local Services
// (kubernetes.io/service-name, the label kube-controller-manager sets and Lighthouse selects
// on, pkg/agent/controller/service_endpoint_slices.go) that are not MCS slices: the exporter's
// own copies carry kubernetes.io/service-name too once the mcs-api servicecontroller has
// labelled them for the derived Service (controllers/endpointslice.go), and another agent's
// imported slices carry the MCS service-name label. Cilium selects its sources the same way,
// by managed-by not its own.
var (
	sourceSelector = mustSelector(
		mustRequirement(discoveryv1.LabelServiceName, selection.Exists),
		mustRequirement(discoveryv1.LabelManagedBy, selection.NotEquals, ManagedBy),
		mustRequirement(mcsv1beta1.LabelServiceName, selection.DoesNotExist),
	)
	copySelector = mustSelector(mustRequirement(discoveryv1.LabelManagedBy, selection.Equals, ManagedBy))
)

func newMember(c Cluster) *member {
	sliceIndex := func(label string) cache.Indexers {
		return cache.Indexers{byService: func(obj any) ([]string, error) {
			s, ok := obj.(*discoveryv1.EndpointSlice)
			if !ok || s.Labels[label] == "" {
				return nil, nil
			}
			return []string{s.Namespace + "/" + s.Labels[label]}, nil
		}}
	}
	withSelector := func(sel labels.Selector) func(*metav1.ListOptions) {
		return func(o *metav1.ListOptions) { o.LabelSelector = sel.String() }
	}
	return &member{
		Cluster:    c,
		exports:    mcsinformers.NewServiceExportInformer(c.MCS, metav1.NamespaceAll, 0, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}),
		imports:    mcsinformers.NewServiceImportInformer(c.MCS, metav1.NamespaceAll, 0, cache.Indexers{}),
		services:   coreinformers.NewServiceInformer(c.Kube, metav1.NamespaceAll, 0, cache.Indexers{}),
		sources:    discoveryinformers.NewFilteredEndpointSliceInformer(c.Kube, metav1.NamespaceAll, 0, sliceIndex(discoveryv1.LabelServiceName), withSelector(sourceSelector)),
		copies:     discoveryinformers.NewFilteredEndpointSliceInformer(c.Kube, metav1.NamespaceAll, 0, sliceIndex(mcsv1beta1.LabelServiceName), withSelector(copySelector)),
		namespaces: coreinformers.NewNamespaceInformer(c.Kube, 0, cache.Indexers{}),
		queue:      newQueue(c.Name),
	}
}

func (m *member) informers() []cache.SharedIndexInformer {
	return []cache.SharedIndexInformer{m.exports, m.imports, m.services, m.sources, m.copies, m.namespaces}
}

// preflight fails early, with the reason, when the cluster does not serve the v1beta1 MCS API
// (the CRDs of mcs-api v0.5+ serve v1alpha1 and v1beta1 with the same schema and store v1beta1;
// both versions name the same objects, so the mcs-api servicecontroller, which reads v1alpha1,
// sees what the exporter writes as v1beta1).
func (m *member) preflight(ctx context.Context) error {
	one := metav1.ListOptions{Limit: 1}
	if _, err := m.MCS.MulticlusterV1beta1().ServiceExports(metav1.NamespaceAll).List(ctx, one); err != nil {
		return fmt.Errorf("exporter: cluster %s: listing ServiceExports (multicluster.x-k8s.io/v1beta1): %w", m.Name, err)
	}
	if _, err := m.MCS.MulticlusterV1beta1().ServiceImports(metav1.NamespaceAll).List(ctx, one); err != nil {
		return fmt.Errorf("exporter: cluster %s: listing ServiceImports (multicluster.x-k8s.io/v1beta1): %w", m.Name, err)
	}
	return nil
}

// addHandlers maps every event to the service it concerns.
func (m *member) addHandlers(e *exporter) {
	byName := func(obj any) []string {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			return []string{key}
		}
		return nil
	}
	sliceBy := func(label string) func(any) []string {
		return func(obj any) []string {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			s, ok := obj.(*discoveryv1.EndpointSlice)
			if !ok || s.Labels[label] == "" {
				return nil
			}
			return []string{s.Namespace + "/" + s.Labels[label]}
		}
	}
	// A namespace that appears (or finishes terminating) lets imports be written there.
	exportsIn := func(obj any) []string {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		ns, ok := obj.(*corev1.Namespace)
		if !ok {
			return nil
		}
		var keys []string
		for _, other := range e.members {
			objs, _ := other.exports.GetIndexer().ByIndex(cache.NamespaceIndex, ns.Name)
			for _, o := range objs {
				keys = append(keys, byName(o)...)
			}
		}
		return keys
	}
	handle := func(inf cache.SharedIndexInformer, keys func(any) []string) {
		add := func(obj any) {
			for _, k := range keys(obj) {
				e.enqueue(k)
			}
		}
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    add,
			UpdateFunc: func(old, cur any) { add(old); add(cur) },
			DeleteFunc: add,
		})
	}
	handle(m.exports, byName)
	handle(m.imports, byName)
	handle(m.services, byName)
	handle(m.sources, sliceBy(discoveryv1.LabelServiceName))
	handle(m.copies, sliceBy(mcsv1beta1.LabelServiceName))
	handle(m.namespaces, exportsIn)
}

func mustRequirement(key string, op selection.Operator, vals ...string) labels.Requirement {
	r, err := labels.NewRequirement(key, op, vals)
	if err != nil {
		panic(err)
	}
	return *r
}

func mustSelector(reqs ...labels.Requirement) labels.Selector {
	return labels.NewSelector().Add(reqs...)
}
