package clusterset

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"
)

// Export creates the ServiceExport of the Service ns/name: what a user writes to export it.
func (c *Cluster) Export(ctx context.Context, ns, name string) error {
	exp := &mcsv1beta1.ServiceExport{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if _, err := c.Clients.MCS.MulticlusterV1beta1().ServiceExports(ns).Create(ctx, exp, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("cluster %s: creating ServiceExport %s/%s: %w", c.Name, ns, name, err)
	}
	return nil
}

// Unexport deletes the ServiceExport of ns/name.
func (c *Cluster) Unexport(ctx context.Context, ns, name string) error {
	err := c.Clients.MCS.MulticlusterV1beta1().ServiceExports(ns).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("cluster %s: deleting ServiceExport %s/%s: %w", c.Name, ns, name, err)
	}
	return nil
}

// Import returns the cluster's ServiceImport ns/name (nil, nil when there is none).
func (c *Cluster) Import(ctx context.Context, ns, name string) (*mcsv1beta1.ServiceImport, error) {
	si, err := c.Clients.MCS.MulticlusterV1beta1().ServiceImports(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return si, err
}

// DerivedService returns the Service the mcs-api servicecontroller derived from the
// cluster's ServiceImport ns/name (named by the import's
// multicluster.kubernetes.io/derived-service annotation), or nil while there is none.
func (c *Cluster) DerivedService(ctx context.Context, ns, name string) (*corev1.Service, error) {
	si, err := c.Import(ctx, ns, name)
	if err != nil || si == nil {
		return nil, err
	}
	derived := si.Annotations[DerivedServiceAnnotation]
	if derived == "" {
		return nil, nil
	}
	svc, err := c.Clients.Kube.CoreV1().Services(ns).Get(ctx, derived, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return svc, err
}

// DerivedServiceAnnotation is the annotation by which the servicecontroller names the derived
// Service on the ServiceImport (sigs.k8s.io/mcs-api/controllers common.go).
const DerivedServiceAnnotation = "multicluster.kubernetes.io/derived-service"

func isConflict(err error) bool { return apierrors.IsConflict(err) }
