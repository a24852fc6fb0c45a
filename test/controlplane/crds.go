package controlplane

import (
	"context"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	mcscrd "sigs.k8s.io/mcs-api/config/crd"
	"sigs.k8s.io/yaml"
)

// CRDVariant says which versions of the MCS CRDs the API server serves.
type CRDVariant int

const (
	// BothVersions installs the CRDs as mcs-api ships them: v1alpha1 and v1beta1 served, v1beta1
	// stored.
	BothVersions CRDVariant = iota
	// OnlyV1alpha1 installs them with v1alpha1 alone, served and stored, as on clusters that
	// predate v1beta1.
	OnlyV1alpha1
	// OnlyV1beta1 installs them with v1beta1 alone, served and stored.
	OnlyV1beta1
)

func (v CRDVariant) String() string {
	switch v {
	case BothVersions:
		return "BothVersions"
	case OnlyV1alpha1:
		return "OnlyV1alpha1"
	case OnlyV1beta1:
		return "OnlyV1beta1"
	}
	return fmt.Sprintf("CRDVariant(%d)", int(v))
}

// versions lists the served versions of the variant, the stored one last.
func (v CRDVariant) versions() (served []string, storage string) {
	switch v {
	case OnlyV1alpha1:
		return []string{"v1alpha1"}, "v1alpha1"
	case OnlyV1beta1:
		return []string{"v1beta1"}, "v1beta1"
	}
	return []string{"v1alpha1", "v1beta1"}, "v1beta1"
}

// Names of the MCS CRDs.
const (
	ServiceImportCRDName = "serviceimports.multicluster.x-k8s.io"
	ServiceExportCRDName = "serviceexports.multicluster.x-k8s.io"
)

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// InstallCRDs installs the ServiceImport and ServiceExport CRDs embedded in the mcs-api module,
// serving the versions of variant, and waits until they are Established. A CRD that already
// serves exactly those versions is left alone; one that serves others is deleted first, which
// deletes every object of its kind.
func (c *ControlPlane) InstallCRDs(ctx context.Context, variant CRDVariant) error {
	dc, err := dynamic.NewForConfig(c.AdminConfig())
	if err != nil {
		return err
	}
	crds := dc.Resource(crdGVR)
	for _, manifest := range [][]byte{mcscrd.ServiceImportCRD, mcscrd.ServiceExportCRD} {
		want, err := crdFor(manifest, variant)
		if err != nil {
			return err
		}
		name := want.GetName()

		have, err := crds.Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return fmt.Errorf("getting CRD %s: %w", name, err)
		case have.GetDeletionTimestamp() == nil && slices.Equal(servedVersions(have), servedVersions(want)):
			if err := c.waitEstablished(ctx, dc, name); err != nil {
				return err
			}
			continue
		default:
			if err := c.deleteCRD(ctx, dc, name); err != nil {
				return err
			}
		}

		if _, err := crds.Create(ctx, want, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating CRD %s (%s): %w", name, variant, err)
		}
		if err := c.waitEstablished(ctx, dc, name); err != nil {
			return err
		}
	}
	return nil
}

// DeleteCRDs deletes the MCS CRDs, and with them every ServiceImport and ServiceExport, and waits
// until they are gone. It is not an error if they are absent.
func (c *ControlPlane) DeleteCRDs(ctx context.Context) error {
	dc, err := dynamic.NewForConfig(c.AdminConfig())
	if err != nil {
		return err
	}
	for _, name := range []string{ServiceImportCRDName, ServiceExportCRDName} {
		if err := c.deleteCRD(ctx, dc, name); err != nil {
			return err
		}
	}
	return nil
}

func (c *ControlPlane) deleteCRD(ctx context.Context, dc dynamic.Interface, name string) error {
	crds := dc.Resource(crdGVR)
	err := crds.Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting CRD %s: %w", name, err)
	}
	return c.waitFor(ctx, "CRD "+name+" to be deleted", func() (bool, error) {
		_, err := crds.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

func (c *ControlPlane) waitEstablished(ctx context.Context, dc dynamic.Interface, name string) error {
	crds := dc.Resource(crdGVR)
	return c.waitFor(ctx, "CRD "+name+" to be Established", func() (bool, error) {
		crd, err := crds.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, cond := range conds {
			m, _ := cond.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
}

// waitFor polls cond every 100ms for at most ReadyTimeout.
func (c *ControlPlane) waitFor(ctx context.Context, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(c.timeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		last = err
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s (last error: %v)", c.timeout, what, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// crdFor parses an embedded CRD manifest and keeps only the versions of variant.
func crdFor(manifest []byte, variant CRDVariant) (*unstructured.Unstructured, error) {
	js, err := yaml.YAMLToJSON(manifest)
	if err != nil {
		return nil, err
	}
	crd := &unstructured.Unstructured{}
	if err := crd.UnmarshalJSON(js); err != nil {
		return nil, err
	}
	served, storage := variant.versions()
	versions, _, err := unstructured.NestedSlice(crd.Object, "spec", "versions")
	if err != nil {
		return nil, err
	}
	var kept []any
	for _, v := range versions {
		m, ok := v.(map[string]any)
		if !ok {
			continue
		}
		name, _ := m["name"].(string)
		if !slices.Contains(served, name) {
			continue
		}
		m["served"] = true
		m["storage"] = name == storage
		kept = append(kept, m)
	}
	if len(kept) != len(served) {
		return nil, fmt.Errorf("CRD %s: mcs-api ships no version among %v", crd.GetName(), served)
	}
	if err := unstructured.SetNestedSlice(crd.Object, kept, "spec", "versions"); err != nil {
		return nil, err
	}
	return crd, nil
}

// servedVersions lists the names of the served versions of a CRD, sorted.
func servedVersions(crd *unstructured.Unstructured) []string {
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	var names []string
	for _, v := range versions {
		m, _ := v.(map[string]any)
		if served, _ := m["served"].(bool); served {
			name, _ := m["name"].(string)
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}
