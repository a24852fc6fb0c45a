package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"

	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// Fixtures that reproduce what each MCS implementation's controllers write into a
// cluster that imports services: the ServiceImports (labels, annotations, spec,
// status), the derived Services (whose ClusterIPs the API server allocates) and the
// EndpointSlices. Each builder cites the source file it follows.

const (
	labelSourceNamespaceLH = "lighthouse.submariner.io/sourceNamespace"
	labelIsHeadlessLH      = "lighthouse.submariner.io/is-headless"
	labelSourceNameLH      = "lighthouse.submariner.io/source-name"
	// SubmarinerNamespace is where Lighthouse keeps its per-cluster ServiceImports.
	SubmarinerNamespace = "submariner-operator"
)

// mcsDerivedName is the derived Service name of the mcs-api controllers and Cilium:
// "derived-" and the first 10 characters of the base32hex SHA-256 of "<ns>/<name>"
// (kubernetes-sigs/mcs-api controllers/common.go derivedName; cilium/cilium
// pkg/clustermesh/mcsapi/service_controller.go derivedName).
func mcsDerivedName(ns, name string) string {
	h := sha256.Sum256([]byte(ns + "/" + name))
	return "derived-" + strings.ToLower(base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(h[:]))[:10]
}

// awsDerivedName is the AWS controller's per-cluster derived Service name
// (aws-cloud-map-mcs-controller-for-k8s pkg/controllers/multicluster/utils.go DerivedName).
func awsDerivedName(ns, name, cluster string) string {
	h := sha256.Sum256([]byte(ns + name + cluster))
	return "imported-" + strings.ToLower(base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(h[:]))[:10]
}

// Clients are the harness's clients with the calls that write what each implementation
// writes.
type Clients struct{ harness.Clients }

// CreateService creates a Service and returns it with its allocated ClusterIP.
func (c Clients) CreateService(ctx context.Context, svc *corev1.Service) (*corev1.Service, error) {
	out, err := c.Kube.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating Service %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	return out, nil
}

// CreateAlphaImport creates a v1alpha1 ServiceImport, then writes its status (a
// subresource) as the controller does.
func (c Clients) CreateAlphaImport(ctx context.Context, si *mcsv1alpha1.ServiceImport) error {
	api := c.MCS.MulticlusterV1alpha1().ServiceImports(si.Namespace)
	out, err := api.Create(ctx, si, metav1.CreateOptions{})
	if err == nil && len(si.Status.Clusters) > 0 {
		out.Status = si.Status
		_, err = api.UpdateStatus(ctx, out, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("creating ServiceImport %s/%s: %w", si.Namespace, si.Name, err)
	}
	return nil
}

// CreateBetaImport creates a v1beta1 ServiceImport and writes its status.
func (c Clients) CreateBetaImport(ctx context.Context, si *mcsv1beta1.ServiceImport) error {
	api := c.MCS.MulticlusterV1beta1().ServiceImports(si.Namespace)
	out, err := api.Create(ctx, si, metav1.CreateOptions{})
	if err == nil && (len(si.Status.Clusters) > 0 || si.Status.EndpointSliceObjects != "") {
		out.Status = si.Status
		_, err = api.UpdateStatus(ctx, out, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("creating ServiceImport %s/%s: %w", si.Namespace, si.Name, err)
	}
	return nil
}

// CreateEndpointSlice creates an EndpointSlice as given (GenerateName allowed).
func (c Clients) CreateEndpointSlice(ctx context.Context, es *discovery.EndpointSlice) (*discovery.EndpointSlice, error) {
	out, err := c.Kube.DiscoveryV1().EndpointSlices(es.Namespace).Create(ctx, es, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating EndpointSlice %s/%s%s: %w", es.Namespace, es.Name, es.GenerateName, err)
	}
	return out, nil
}

// UpdateEndpointSlice replaces an EndpointSlice's labels and endpoints.
func (c Clients) UpdateEndpointSlice(ctx context.Context, es *discovery.EndpointSlice) error {
	api := c.Kube.DiscoveryV1().EndpointSlices(es.Namespace)
	cur, err := api.Get(ctx, es.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	cur.Labels, cur.Endpoints = es.Labels, es.Endpoints
	_, err = api.Update(ctx, cur, metav1.UpdateOptions{})
	return err
}

func ptr[T any](v T) *T { return &v }

func endpointPorts(ports ...harness.Port) []discovery.EndpointPort {
	var out []discovery.EndpointPort
	for _, p := range ports {
		out = append(out, discovery.EndpointPort{Name: ptr(p.Name), Protocol: ptr(p.Protocol), Port: ptr(p.Port)})
	}
	return out
}

func servicePorts(ports ...harness.Port) []corev1.ServicePort {
	var out []corev1.ServicePort
	for _, p := range ports {
		out = append(out, corev1.ServicePort{Name: p.Name, Protocol: p.Protocol, Port: p.Port})
	}
	return out
}

func alphaPorts(ports ...harness.Port) []mcsv1alpha1.ServicePort {
	out := []mcsv1alpha1.ServicePort{}
	for _, p := range ports {
		out = append(out, mcsv1alpha1.ServicePort{Name: p.Name, Protocol: p.Protocol, Port: p.Port})
	}
	return out
}

func betaPorts(ports ...harness.Port) []mcsv1beta1.ServicePort {
	out := []mcsv1beta1.ServicePort{}
	for _, p := range ports {
		out = append(out, mcsv1beta1.ServicePort{Name: p.Name, Protocol: p.Protocol, Port: p.Port})
	}
	return out
}

func alphaClusters(ids ...string) []mcsv1alpha1.ClusterStatus {
	var out []mcsv1alpha1.ClusterStatus
	for _, id := range ids {
		out = append(out, mcsv1alpha1.ClusterStatus{Cluster: id})
	}
	return out
}

// podEndpoint is a ready endpoint of a pod (targetRef set, as EndpointSlice
// controllers write it).
func podEndpoint(ns, pod, host, addr string, ready bool) discovery.Endpoint {
	e := discovery.Endpoint{
		Addresses:  []string{addr},
		Conditions: discovery.EndpointConditions{Ready: ptr(ready), Serving: ptr(ready), Terminating: ptr(false)},
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod},
	}
	if host != "" {
		e.Hostname = ptr(host)
	}
	return e
}

// ---- Cilium ClusterMesh MCS-API ----

// CiliumImport writes what Cilium's operator writes for a service exported by other
// clusters: the derived Service "derived-<hash>" labelled with the service name and the
// local cluster and annotated global (pkg/clustermesh/mcsapi/service_controller.go
// Reconcile; the annotation key is pkg/annotation/k8s.go GlobalService), and the
// v1beta1 ServiceImport with the merged ports, ipFamilies, the derived-service
// annotation and status.clusters/endpointSliceObjects
// (pkg/clustermesh/mcsapi/serviceimport_controller.go Reconcile,
// getEndpointSliceObjectsStatus: Absent for ClusterSetIP, Present for Headless). For a
// ClusterSetIP service, ips is the derived Service's ClusterIP. It returns the
// derived Service.
func (c Clients) CiliumImport(ctx context.Context, ns, name, localCluster string, headless bool, clusters []string, ports ...harness.Port) (*corev1.Service, error) {
	derived := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: mcsDerivedName(ns, name),
			Annotations: map[string]string{"service.cilium.io/global": "true"},
			Labels:      map[string]string{mcsv1beta1.LabelServiceName: name, mcsv1beta1.LabelSourceCluster: localCluster}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Ports: servicePorts(ports...), Selector: map[string]string{}},
	}
	if headless {
		derived.Spec.ClusterIP = corev1.ClusterIPNone
	}
	derived, err := c.CreateService(ctx, derived)
	if err != nil {
		return nil, err
	}
	si := &mcsv1beta1.ServiceImport{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Annotations: map[string]string{"multicluster.kubernetes.io/derived-service": derived.Name}},
		Spec: mcsv1beta1.ServiceImportSpec{Type: mcsv1beta1.ClusterSetIP, Ports: betaPorts(ports...),
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol}},
		Status: mcsv1beta1.ServiceImportStatus{EndpointSliceObjects: mcsv1beta1.EndpointSliceObjectsAbsent},
	}
	if headless {
		si.Spec.Type = mcsv1beta1.Headless
		si.Status.EndpointSliceObjects = mcsv1beta1.EndpointSliceObjectsPresent
	} else {
		si.Spec.IPs = []string{derived.Spec.ClusterIP}
	}
	for _, id := range clusters {
		si.Status.Clusters = append(si.Status.Clusters, mcsv1beta1.ClusterStatus{Cluster: id})
	}
	return derived, c.CreateBetaImport(ctx, si)
}

// CiliumRemoteSlice is the EndpointSlice Cilium's mesh EndpointSlice controller writes
// for a remote cluster's backends of a derived Service: managed by
// "endpointslice-mesh-controller.cilium.io" (pkg/k8s/utils/utils.go,
// pkg/clustermesh/endpointslicesync/endpointslice_meta_controller.go), labelled
// kubernetes.io/service-name=<derived> plus both MCS labels; targetRefs name pods of the
// remote cluster, which do not exist here.
func CiliumRemoteSlice(ns, service, derived, cluster string, ports []harness.Port, eps ...discovery.Endpoint) *discovery.EndpointSlice {
	return &discovery.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: derived + "-", Labels: map[string]string{
			discovery.LabelServiceName:    derived,
			discovery.LabelManagedBy:      "endpointslice-mesh-controller.cilium.io",
			mcsv1beta1.LabelServiceName:   service,
			mcsv1beta1.LabelSourceCluster: cluster,
		}},
		AddressType: discovery.AddressTypeIPv4, Ports: endpointPorts(ports...), Endpoints: eps,
	}
}

// CiliumLocalSlice is the slice kube-controller-manager writes for the derived Service
// in a cluster that also exports the service: it mirrors the derived Service's labels,
// so it carries both MCS labels with the local cluster (service_controller.go: "so that
// the EndpointSlices created by kube-controller-manager will also mirror that label").
func CiliumLocalSlice(ns, service, derived, cluster string, ports []harness.Port, eps ...discovery.Endpoint) *discovery.EndpointSlice {
	es := CiliumRemoteSlice(ns, service, derived, cluster, ports, eps...)
	es.Labels[discovery.LabelManagedBy] = "endpointslice-controller.k8s.io"
	return es
}

// LocalServiceSlice is the slice kube-controller-manager writes for a cluster's own
// Service: only kubernetes.io/service-name, no MCS label.
func LocalServiceSlice(ns, service string, ports []harness.Port, eps ...discovery.Endpoint) *discovery.EndpointSlice {
	return &discovery.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: service + "-", Labels: map[string]string{
			discovery.LabelServiceName: service,
			discovery.LabelManagedBy:   "endpointslice-controller.k8s.io",
		}},
		AddressType: discovery.AddressTypeIPv4, Ports: endpointPorts(ports...), Endpoints: eps,
	}
}

// ---- Submariner Lighthouse ----

// LighthouseImport is the aggregated ServiceImport Lighthouse syncs from the broker into
// the service's namespace (submariner-io/lighthouse pkg/agent/controller/service_import.go
// Distribute, onRemoteServiceImport): v1alpha1, no ips unless clusterset IPs are
// enabled, ports: [] for headless services (ClusterSetIP ports are merged from the
// slices, service_import_aggregator.go setServicePorts), one timestamp annotation per
// exporting cluster, status.clusters listing them.
func LighthouseImport(ns, name string, headless bool, clusters []string, ports ...harness.Port) *mcsv1alpha1.ServiceImport {
	si := &mcsv1alpha1.ServiceImport{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Annotations: map[string]string{"lighthouse.submariner.io/use-clusterset-ip": "false"}},
		Spec:   mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.ClusterSetIP, Ports: alphaPorts(ports...), SessionAffinity: corev1.ServiceAffinityNone},
		Status: mcsv1alpha1.ServiceImportStatus{Clusters: alphaClusters(clusters...)},
	}
	for i, c := range clusters {
		si.Annotations["timestamp.submariner.io/"+c] = fmt.Sprint(1700000000000000000 + i)
	}
	if headless {
		si.Spec.Type = mcsv1alpha1.Headless
		si.Spec.Ports = []mcsv1alpha1.ServicePort{}
	}
	return si
}

// LighthouseLocalImport is the per-cluster ServiceImport an exporting cluster keeps in
// the Submariner namespace (pkg/agent/controller/agent.go newServiceImport and
// serviceExportToServiceImport): "<svc>-<ns>-<cluster>", labelled with the service
// name, source namespace and the MCS source-cluster label; ips the local ClusterIP.
func LighthouseLocalImport(svc, ns, cluster string, headless bool, clusterIP string, ports ...harness.Port) *mcsv1alpha1.ServiceImport {
	si := &mcsv1alpha1.ServiceImport{
		ObjectMeta: metav1.ObjectMeta{Namespace: SubmarinerNamespace, Name: svc + "-" + ns + "-" + cluster,
			Labels: map[string]string{
				mcsv1alpha1.LabelServiceName:   svc,
				labelSourceNamespaceLH:         ns,
				mcsv1alpha1.LabelSourceCluster: cluster,
			},
			Annotations: map[string]string{"lighthouse.submariner.io/publish-not-ready-addresses": "false"}},
		Spec:   mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.ClusterSetIP, Ports: []mcsv1alpha1.ServicePort{}, SessionAffinity: corev1.ServiceAffinityNone},
		Status: mcsv1alpha1.ServiceImportStatus{Clusters: alphaClusters(cluster)},
	}
	if headless {
		si.Spec.Type = mcsv1alpha1.Headless
	} else {
		si.Spec.IPs = []string{clusterIP}
		si.Spec.Ports = alphaPorts(ports...)
	}
	return si
}

// LighthouseLegacyImport is a per-cluster ServiceImport of Lighthouse <= 0.14, the only
// kind a legacy cluster writes (pkg/agent/controller/service_import_migrator.go legacy
// labels; service_import_migration_test.go newLegacyServiceImport).
func LighthouseLegacyImport(svc, ns, cluster, clusterIP string, ports ...harness.Port) *mcsv1alpha1.ServiceImport {
	return &mcsv1alpha1.ServiceImport{
		ObjectMeta: metav1.ObjectMeta{Namespace: SubmarinerNamespace, Name: svc + "-" + ns + "-" + cluster,
			Annotations: map[string]string{"origin-name": svc, "origin-namespace": ns},
			Labels: map[string]string{
				"lighthouse.submariner.io/sourceName":    svc,
				labelSourceNamespaceLH:                   ns,
				"lighthouse.submariner.io/sourceCluster": cluster,
			}},
		Spec:   mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.ClusterSetIP, IPs: []string{clusterIP}, Ports: alphaPorts(ports...)},
		Status: mcsv1alpha1.ServiceImportStatus{Clusters: alphaClusters(cluster)},
	}
}

// lighthouseSliceMeta is the metadata of the slices Lighthouse exports
// (pkg/agent/controller/service_endpoint_slices.go newEndpointSliceFrom).
func lighthouseSliceMeta(ns, svc, cluster string, headless bool) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, GenerateName: svc + "-",
		Labels: map[string]string{
			discovery.LabelManagedBy:       "lighthouse-agent.submariner.io",
			labelSourceNamespaceLH:         ns,
			mcsv1alpha1.LabelSourceCluster: cluster,
			mcsv1alpha1.LabelServiceName:   svc,
			labelIsHeadlessLH:              fmt.Sprint(headless),
		},
		Annotations: map[string]string{
			"lighthouse.submariner.io/publish-not-ready-addresses": "false",
			"lighthouse.submariner.io/globalnet-enabled":           "false",
		}}
}

// LighthouseVIPSlice is a cluster's slice of a ClusterSetIP service: one endpoint, the
// cluster's Service VIP, ready when the cluster has a ready backend
// (service_endpoint_slices.go clusterIPEndpointSliceFrom).
func LighthouseVIPSlice(ns, svc, cluster, vip string, ready bool, ports ...harness.Port) *discovery.EndpointSlice {
	return &discovery.EndpointSlice{
		ObjectMeta:  lighthouseSliceMeta(ns, svc, cluster, false),
		AddressType: discovery.AddressTypeIPv4,
		Endpoints:   []discovery.Endpoint{{Addresses: []string{vip}, Conditions: discovery.EndpointConditions{Ready: ptr(ready)}}},
		Ports:       endpointPorts(ports...),
	}
}

// LighthouseHeadlessSlice is a cluster's copy of one of its own slices of a headless
// service: the endpoints and ports as the cluster's EndpointSlice controller wrote them,
// plus the source-name label (service_endpoint_slices.go headlessEndpointSliceFrom).
func LighthouseHeadlessSlice(ns, svc, cluster, sourceName string, ports []harness.Port, eps ...discovery.Endpoint) *discovery.EndpointSlice {
	meta := lighthouseSliceMeta(ns, svc, cluster, true)
	meta.Labels[labelSourceNameLH] = sourceName
	return &discovery.EndpointSlice{ObjectMeta: meta, AddressType: discovery.AddressTypeIPv4, Ports: endpointPorts(ports...), Endpoints: eps}
}

// ---- AWS Cloud Map MCS controller ----

// AWSImport writes what the AWS Cloud Map controller writes for a service found in Cloud
// Map: one derived Service per exporting cluster ("imported-<hash>", labelled with the
// source cluster and the import name; headless when the service is), and the v1alpha1
// ServiceImport whose ips are the derived Services' ClusterIPs in map order ("None"
// for headless ones), with the derived-service annotation; status.clusters is written
// only when the import is created, so it lists statusClusters
// (aws-cloud-map-mcs-controller-for-k8s pkg/controllers/multicluster/cloudmap_controller.go
// reconcileService, createAndGetServiceImport, updateServiceImport; utils.go
// CreateServiceImportStruct, CreateDerivedServiceStruct). It returns the derived
// Services by cluster.
func (c Clients) AWSImport(ctx context.Context, ns, name string, headless bool, clusters, statusClusters []string, ports ...harness.Port) (map[string]*corev1.Service, error) {
	derived := map[string]*corev1.Service{}
	var ips []string
	var ann []map[string]string
	for _, cl := range clusters {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: awsDerivedName(ns, name, cl),
				Labels: map[string]string{mcsv1alpha1.LabelSourceCluster: cl, mcsv1alpha1.LabelServiceName: name}},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Ports: servicePorts(ports...)},
		}
		if headless {
			svc.Spec.ClusterIP = corev1.ClusterIPNone
		}
		out, err := c.CreateService(ctx, svc)
		if err != nil {
			return nil, err
		}
		derived[cl] = out
		ips = append(ips, out.Spec.ClusterIP)
		ann = append(ann, map[string]string{"cluster": cl, "derived-service": out.Name})
	}
	annJSON, _ := json.Marshal(ann)
	si := &mcsv1alpha1.ServiceImport{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Annotations: map[string]string{"multicluster.k8s.aws/derived-service": string(annJSON)}},
		Spec:   mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.ClusterSetIP, IPs: ips, Ports: alphaPorts(ports...)},
		Status: mcsv1alpha1.ServiceImportStatus{Clusters: alphaClusters(statusClusters...)},
	}
	if headless {
		si.Spec.Type = mcsv1alpha1.Headless
	}
	return derived, c.CreateAlphaImport(ctx, si)
}

// UseAWSServiceImportCRD makes the installed v1alpha1 ServiceImport CRD accept what the
// AWS controller writes: the controller ships its own CRD, whose spec.ips has no item
// limit (aws-cloud-map-mcs-controller-for-k8s
// config/crd/bases/multicluster.x-k8s.io_serviceimports.yaml), where mcs-api's allows two.
func UseAWSServiceImportCRD(ctx context.Context, cfg *rest.Config) error {
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	crds := dc.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	crd, err := crds.Get(ctx, "serviceimports.multicluster.x-k8s.io", metav1.GetOptions{})
	if err != nil {
		return err
	}
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	for i := range versions {
		v := versions[i].(map[string]any)
		unstructured.RemoveNestedField(v, "schema", "openAPIV3Schema", "properties", "spec", "properties", "ips", "maxItems")
	}
	if err := unstructured.SetNestedSlice(crd.Object, versions, "spec", "versions"); err != nil {
		return err
	}
	_, err = crds.Update(ctx, crd, metav1.UpdateOptions{})
	return err
}

// AWSSlice is the EndpointSlice the AWS controller writes for a derived Service
// (utils.go CreateEndpointSliceStruct, CreateEndpointForSlice): generateName
// "<derived>-", both service-name labels, the source cluster; each endpoint's targetRef
// is the derived Service and its hostname the Cloud Map instance's, when set.
func AWSSlice(derived *corev1.Service, importName, cluster string, ports []harness.Port, eps ...discovery.Endpoint) *discovery.EndpointSlice {
	for i := range eps {
		eps[i].TargetRef = &corev1.ObjectReference{Kind: "Service", Namespace: derived.Namespace, Name: derived.Name,
			UID: derived.UID, ResourceVersion: derived.ResourceVersion}
	}
	return &discovery.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: derived.Namespace, GenerateName: derived.Name + "-",
			Labels: map[string]string{
				discovery.LabelServiceName:     derived.Name,
				mcsv1alpha1.LabelServiceName:   importName,
				discovery.LabelManagedBy:       "aws-cloud-map-mcs-controller-for-k8s",
				mcsv1alpha1.LabelSourceCluster: cluster,
			},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: derived.Name, UID: derived.UID,
				Controller: ptr(true), BlockOwnerDeletion: ptr(true)}}},
		AddressType: discovery.AddressTypeIPv4, Ports: endpointPorts(ports...), Endpoints: eps,
	}
}

// AWSEndpoint is an endpoint of a Cloud Map instance (utils.go CreateEndpointForSlice):
// its address, ready condition and hostname when the instance has one; AWSSlice sets the
// targetRef.
func AWSEndpoint(host, addr string, ready bool) discovery.Endpoint {
	e := discovery.Endpoint{Addresses: []string{addr}, Conditions: discovery.EndpointConditions{Ready: ptr(ready)}}
	if host != "" {
		e.Hostname = ptr(host)
	}
	return e
}

// ---- mcs-api reference controllers ----

// MCSAPIImport is a v1beta1 ServiceImport as the mcs-api demo applies it
// (kubernetes-sigs/mcs-api demo/yaml/serviceimport.yaml, serviceimport-with-vip.yaml),
// with the derived-service annotation the ServiceImport controller adds and its derived
// Service (controllers/serviceimport.go).
func (c Clients) MCSAPIImport(ctx context.Context, ns, name string, headless bool, ips []string, ports ...harness.Port) (*corev1.Service, error) {
	derived := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: mcsDerivedName(ns, name)},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Ports: servicePorts(ports...)},
	}
	if headless {
		derived.Spec.ClusterIP = corev1.ClusterIPNone
	}
	derived, err := c.CreateService(ctx, derived)
	if err != nil {
		return nil, err
	}
	si := &mcsv1beta1.ServiceImport{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Annotations: map[string]string{"multicluster.kubernetes.io/derived-service": derived.Name}},
		Spec: mcsv1beta1.ServiceImportSpec{Type: mcsv1beta1.ClusterSetIP, IPs: ips, Ports: betaPorts(ports...)},
	}
	if headless {
		si.Spec.Type = mcsv1beta1.Headless
	}
	return derived, c.CreateBetaImport(ctx, si)
}

// MCSAPISlice is an EndpointSlice copied from an exporting cluster the way the mcs-api
// demo does it (demo/demo.sh: "imported-<name>", metadata replaced by the single label
// multicluster.kubernetes.io/service-name), after the EndpointSlice controller added
// kubernetes.io/service-name of the derived Service (controllers/endpointslice.go). No
// source-cluster label.
func MCSAPISlice(ns, service, derived, original string, ports []harness.Port, eps ...discovery.Endpoint) *discovery.EndpointSlice {
	return &discovery.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "imported-" + original, Labels: map[string]string{
			mcsv1beta1.LabelServiceName: service,
			discovery.LabelServiceName:  derived,
		}},
		AddressType: discovery.AddressTypeIPv4, Ports: endpointPorts(ports...), Endpoints: eps,
	}
}
