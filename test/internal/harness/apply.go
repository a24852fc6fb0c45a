package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
)

// ApplyDeploy applies deploy/*.yaml as the README tells an admin of a cluster without a
// CoreDNS (`kubectl apply --server-side -f deploy/`), with the coredns container's image set
// to image (`kubectl set image`) and the kube-dns Service's clusterIP set to clusterDNS, as
// deploy/service.yaml says to ("set clusterIP to the address the kubelets pass to pods").
func ApplyDeploy(ctx context.Context, kube kubernetes.Interface, dyn dynamic.Interface, root, image, clusterDNS string) error {
	ms, err := LoadManifests(root)
	if err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(kube.Discovery()))
	for _, m := range ms {
		obj := m.Obj.DeepCopy()
		if obj.GetKind() == "Deployment" {
			if err := setImage(obj, "coredns", image); err != nil {
				return err
			}
		}
		if obj.GetKind() == "Service" && obj.GetName() == "kube-dns" {
			if err := unstructured.SetNestedField(obj.Object, clusterDNS, "spec", "clusterIP"); err != nil {
				return err
			}
		}
		gvk := obj.GroupVersionKind()
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("deploy/%s %s: %w", m.File, gvk.Kind, err)
		}
		data, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		force := true
		_, err = dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace()).Patch(ctx, obj.GetName(), types.ApplyPatchType, data,
			metav1.PatchOptions{FieldManager: "kubectl", Force: &force})
		if err != nil {
			return fmt.Errorf("applying deploy/%s %s %s: %w", m.File, gvk.Kind, obj.GetName(), err)
		}
	}
	return nil
}

func setImage(deploy *unstructured.Unstructured, container, image string) error {
	cs, _, err := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")
	if err != nil {
		return err
	}
	for i, c := range cs {
		if m, ok := c.(map[string]any); ok && m["name"] == container {
			m["image"] = image
			cs[i] = m
			return unstructured.SetNestedSlice(deploy.Object, cs, "spec", "template", "spec", "containers")
		}
	}
	return fmt.Errorf("deploy/ Deployment %s has no container %q", deploy.GetName(), container)
}

// WaitRollout waits until every replica of the Deployment runs its latest template and is
// available, and no pod of an older one is left.
func WaitRollout(ctx context.Context, kube kubernetes.Interface, ns, name string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last string
	for {
		d, err := kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			last = rolloutState(d)
			if d.Status.ObservedGeneration >= d.Generation && d.Spec.Replicas != nil &&
				d.Status.UpdatedReplicas == *d.Spec.Replicas && d.Status.Replicas == *d.Spec.Replicas &&
				d.Status.AvailableReplicas == *d.Spec.Replicas {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("deployment %s/%s not rolled out within %s: %s", ns, name, timeout, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func rolloutState(d *appsv1.Deployment) string {
	return fmt.Sprintf("generation %d observed %d, replicas %d updated %d available %d", d.Generation,
		d.Status.ObservedGeneration, d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.AvailableReplicas)
}
