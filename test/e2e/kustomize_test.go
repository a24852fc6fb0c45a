package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// kustomize renders the kustomization in dir as `kubectl apply -k` would (kustomize's own
// Go module, default options: files outside dir only through bases).
func kustomize(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var out []*unstructured.Unstructured
	for _, r := range m.Resources() {
		obj, err := r.Map()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
	return out
}

func findObj(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// applier applies objects with server-side apply.
type applier struct {
	dyn    *dynamic.DynamicClient
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

func newApplier(t *testing.T, s *suite) *applier {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(s.cp.AdminConfig())
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(s.cp.AdminConfig())
	if err != nil {
		t.Fatal(err)
	}
	return &applier{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}
}

func (a *applier) resource(o *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := o.GroupVersionKind()
	mapping, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, err
	}
	if ns := o.GetNamespace(); ns != "" {
		return a.dyn.Resource(mapping.Resource).Namespace(ns), nil
	}
	return a.dyn.Resource(mapping.Resource), nil
}

// apply server-side applies o as manager (a dry run when dryRun) and returns what the API
// server made of it.
func (a *applier) apply(ctx context.Context, o *unstructured.Unstructured, manager string, dryRun bool) (*unstructured.Unstructured, error) {
	ri, err := a.resource(o)
	if err != nil {
		return nil, err
	}
	opts := metav1.ApplyOptions{FieldManager: manager, Force: true}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return ri.Apply(ctx, o.GetName(), o, opts)
}

// TestKustomizeOverKubeadm: deploy/kustomize, rendered with kustomize's Go module, turns a
// stock kubeadm CoreDNS into this one — the image, the Corefile of deploy/configmap.yaml,
// list/watch on ServiceImports added to kubeadm's ClusterRole — and changes nothing else.
// The stock objects are created for real (as kubeadm would have), the overlay is applied
// over them with a server-side dry run, which the API server validates and merges
// without keeping; the stock objects are removed afterwards.
func TestKustomizeOverKubeadm(t *testing.T) {
	s := need(t)
	ctx := context.Background()
	stock := kustomize(t, filepath.Join(s.root, "deploy", "kubeadm"))
	patched := kustomize(t, filepath.Join(s.root, "deploy", "kustomize"))
	if len(stock) != 6 || len(patched) != len(stock) {
		t.Fatalf("rendered %d stock and %d patched objects, want 6 each", len(stock), len(patched))
	}

	ms, err := harness.LoadManifests(s.root)
	if err != nil {
		t.Fatal(err)
	}
	// The image and the Corefile are those of deploy/'s own manifests.
	dm, err := harness.FindManifest(ms, "Deployment", "coredns")
	if err != nil {
		t.Fatal(err)
	}
	wantImage := containerImage(t, dm.Obj)
	cm, err := harness.FindManifest(ms, "ConfigMap", "coredns")
	if err != nil {
		t.Fatal(err)
	}
	wantCorefile, _, _ := unstructured.NestedString(cm.Obj.Object, "data", "Corefile")

	a := newApplier(t, s)
	// created holds the stock objects as the API server stored them (defaults filled in).
	var created []*unstructured.Unstructured
	for _, o := range stock {
		got, err := a.apply(ctx, o, "kubeadm", false)
		if err != nil {
			t.Fatalf("creating stock %s %s: %v", o.GetKind(), o.GetName(), err)
		}
		created = append(created, got)
	}
	t.Cleanup(func() {
		for _, o := range stock {
			if ri, err := a.resource(o); err == nil {
				_ = ri.Delete(context.Background(), o.GetName(), metav1.DeleteOptions{})
			}
		}
	})

	merged := map[string]*unstructured.Unstructured{}
	for _, o := range patched {
		got, err := a.apply(ctx, o, "kubectl", true)
		if err != nil {
			t.Errorf("server-side dry-run apply of %s %s over the stock one: %v", o.GetKind(), o.GetName(), err)
			continue
		}
		merged[o.GetKind()] = got
	}
	if d := merged["Deployment"]; d != nil {
		if img := containerImage(t, d); img != wantImage {
			t.Errorf("patched image %q, want deploy/deployment.yaml's %q", img, wantImage)
		}
		// Everything else of kubeadm's pod spec is kept: probes, securityContext, resources.
		sd := findObj(created, "Deployment", "coredns")
		for _, path := range [][]string{
			{"spec", "template", "spec", "containers"},
			{"spec", "template", "spec", "volumes"},
			{"spec", "replicas"},
		} {
			a, _, _ := unstructured.NestedFieldNoCopy(sd.Object, path...)
			b, _, _ := unstructured.NestedFieldNoCopy(d.Object, path...)
			if path[len(path)-1] == "containers" {
				a, b = withoutImage(a), withoutImage(b)
			}
			if fmt.Sprint(a) != fmt.Sprint(b) {
				t.Errorf("%v changed:\n stock   %v\n patched %v", path, a, b)
			}
		}
	}
	if c := merged["ConfigMap"]; c != nil {
		if got, _, _ := unstructured.NestedString(c.Object, "data", "Corefile"); got != wantCorefile {
			t.Errorf("patched Corefile differs from deploy/configmap.yaml's:\n%s\nwant\n%s", got, wantCorefile)
		}
	}
	if r := merged["ClusterRole"]; r != nil {
		var role rbacv1.ClusterRole
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(r.Object, &role); err != nil {
			t.Fatal(err)
		}
		var stockRole rbacv1.ClusterRole
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(findObj(created, "ClusterRole", "system:coredns").Object, &stockRole); err != nil {
			t.Fatal(err)
		}
		want := append(slices.Clone(stockRole.Rules), rbacv1.PolicyRule{
			APIGroups: []string{"multicluster.x-k8s.io"}, Resources: []string{"serviceimports"}, Verbs: []string{"list", "watch"}},
			rbacv1.PolicyRule{APIGroups: []string{"about.k8s.io"}, Resources: []string{"clusterproperties"},
				ResourceNames: []string{"cluster.clusterset.k8s.io"}, Verbs: []string{"list", "watch"}})
		if fmt.Sprint(role.Rules) != fmt.Sprint(want) {
			t.Errorf("patched ClusterRole rules\n %v\nwant kubeadm's plus serviceimports and the ClusterProperty list/watch\n %v", role.Rules, want)
		}
	}
	for _, kind := range []string{"ServiceAccount", "ClusterRoleBinding", "Service"} {
		if merged[kind] == nil {
			continue
		}
		if a, b := specOf(findObj(created, kind, merged[kind].GetName())), specOf(merged[kind]); a != b {
			t.Errorf("%s changed:\n stock   %s\n patched %s", kind, a, b)
		}
	}

	// A dry run: the cluster still runs the stock image.
	live, err := s.clients.Kube.AppsV1().Deployments("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := live.Spec.Template.Spec.Containers[0].Image; img == wantImage {
		t.Errorf("after a dry run the live Deployment runs %s", img)
	}
}

func containerImage(t *testing.T, o *unstructured.Unstructured) string {
	t.Helper()
	cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
	if len(cs) != 1 {
		t.Fatalf("%s %s: %d containers, want 1", o.GetKind(), o.GetName(), len(cs))
	}
	img, _, _ := unstructured.NestedString(cs[0].(map[string]any), "image")
	return img
}

// withoutImage is a containers list with the image fields removed.
func withoutImage(v any) any {
	cs, ok := v.([]any)
	if !ok {
		return v
	}
	var out []any
	for _, c := range cs {
		m := runtime.DeepCopyJSONValue(c).(map[string]any)
		delete(m, "image")
		out = append(out, m)
	}
	return out
}

// specOf is what an object says apart from its metadata, for comparison.
func specOf(o *unstructured.Unstructured) string {
	if o == nil {
		return "<nil>"
	}
	c := o.DeepCopy()
	delete(c.Object, "metadata")
	delete(c.Object, "status")
	return fmt.Sprint(c.Object)
}
