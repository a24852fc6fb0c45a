package harness

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	mcsclient "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned"
)

// Clients talk to a control plane as its administrator.
type Clients struct {
	Kube kubernetes.Interface
	MCS  mcsclient.Interface
}

// NewClients makes the clients for cfg. The Kubernetes clientset speaks protobuf, as
// the controllers that write EndpointSlices do; CRDs, and so ServiceImports, have JSON
// only.
func NewClients(cfg *rest.Config) (Clients, error) {
	kcfg := rest.CopyConfig(cfg)
	kcfg.ContentType = "application/vnd.kubernetes.protobuf"
	kcfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	kube, err := kubernetes.NewForConfig(kcfg)
	if err != nil {
		return Clients{}, err
	}
	mcs, err := mcsclient.NewForConfig(cfg)
	if err != nil {
		return Clients{}, err
	}
	return Clients{Kube: kube, MCS: mcs}, nil
}

// CreateImport creates the ServiceImport with the v1beta1 API, or v1alpha1 when alpha.
func (c Clients) CreateImport(ctx context.Context, i Import, alpha bool) error {
	var err error
	if alpha {
		_, err = c.MCS.MulticlusterV1alpha1().ServiceImports(i.Namespace).Create(ctx, i.V1alpha1(), metav1.CreateOptions{})
	} else {
		_, err = c.MCS.MulticlusterV1beta1().ServiceImports(i.Namespace).Create(ctx, i.V1beta1(), metav1.CreateOptions{})
	}
	if err != nil {
		return fmt.Errorf("creating ServiceImport %s/%s: %w", i.Namespace, i.Name, err)
	}
	return nil
}

// UpdateImport replaces the spec of an existing ServiceImport (v1beta1 API, or v1alpha1).
func (c Clients) UpdateImport(ctx context.Context, i Import, alpha bool) error {
	var err error
	if alpha {
		api := c.MCS.MulticlusterV1alpha1().ServiceImports(i.Namespace)
		cur, gerr := api.Get(ctx, i.Name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		cur.Spec = i.V1alpha1().Spec
		_, err = api.Update(ctx, cur, metav1.UpdateOptions{})
	} else {
		api := c.MCS.MulticlusterV1beta1().ServiceImports(i.Namespace)
		cur, gerr := api.Get(ctx, i.Name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		cur.Spec = i.V1beta1().Spec
		_, err = api.Update(ctx, cur, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("updating ServiceImport %s/%s: %w", i.Namespace, i.Name, err)
	}
	return nil
}

// DeleteImport deletes a ServiceImport.
func (c Clients) DeleteImport(ctx context.Context, ns, name string) error {
	return c.MCS.MulticlusterV1beta1().ServiceImports(ns).Delete(ctx, name, metav1.DeleteOptions{})
}

// CreateSlice creates the EndpointSlice.
func (c Clients) CreateSlice(ctx context.Context, s Slice) error {
	if _, err := c.Kube.DiscoveryV1().EndpointSlices(s.Namespace).Create(ctx, s.Object(), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating EndpointSlice %s/%s: %w", s.Namespace, s.Name, err)
	}
	return nil
}

// UpdateSlice replaces an existing EndpointSlice's labels, ports and endpoints.
func (c Clients) UpdateSlice(ctx context.Context, s Slice) error {
	api := c.Kube.DiscoveryV1().EndpointSlices(s.Namespace)
	cur, err := api.Get(ctx, s.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	want := s.Object()
	cur.Labels, cur.Ports, cur.Endpoints = want.Labels, want.Ports, want.Endpoints
	if _, err := api.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating EndpointSlice %s/%s: %w", s.Namespace, s.Name, err)
	}
	return nil
}

// DeleteSlice deletes an EndpointSlice.
func (c Clients) DeleteSlice(ctx context.Context, ns, name string) error {
	return c.Kube.DiscoveryV1().EndpointSlices(ns).Delete(ctx, name, metav1.DeleteOptions{})
}

// Namespace creates a namespace.
func (c Clients) Namespace(ctx context.Context, name string) error {
	_, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	return err
}
