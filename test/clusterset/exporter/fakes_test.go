package exporter

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"
	mcsfake "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned/fake"
)

const testNS = "prod"

// TestMain turns client-go's streaming lists (WatchListClient, on by default) off: the
// informers of mcs-api v0.5.2 do not ask their client whether it supports them, and its fake
// clientset never sends the bookmark that ends the initial events, so each informer would wait
// ten seconds before it falls back to a list. A real API server (1.34+) streams them.
func TestMain(m *testing.M) {
	os.Setenv("KUBE_FEATURE_WatchListClient", "false")
	os.Exit(m.Run())
}

// fakeCluster is a member cluster made of client-go's and mcs-api's fake clientsets.
type fakeCluster struct {
	name string
	kube *kubefake.Clientset
	mcs  *mcsfake.Clientset
}

// newFakeCluster makes a cluster holding the namespace testNS and objs. mcs-api's fake
// clientset opens its watches without the listed resource version, so an object created
// between an informer's list and its watch would never be seen; its watch reactor is replaced
// by one that passes the list options on, as client-go's own fake does, so that the tracker
// replays what the list missed and tests may create objects at any time.
func newFakeCluster(name string, objs ...runtime.Object) *fakeCluster {
	var kubeObjs, mcsObjs []runtime.Object
	kubeObjs = append(kubeObjs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNS}})
	for _, o := range objs {
		switch o.(type) {
		case *mcsv1beta1.ServiceExport, *mcsv1beta1.ServiceImport:
			mcsObjs = append(mcsObjs, o)
		default:
			kubeObjs = append(kubeObjs, o)
		}
	}
	f := &fakeCluster{name: name, kube: kubefake.NewClientset(kubeObjs...), mcs: mcsfake.NewSimpleClientset(mcsObjs...)}
	f.versionObjects(&f.kube.Fake, f.kube.Tracker())
	f.versionObjects(&f.mcs.Fake, f.mcs.Tracker())
	tracker := f.mcs.Tracker()
	f.mcs.PrependWatchReactor("*", func(action k8stesting.Action) (bool, watch.Interface, error) {
		var opts metav1.ListOptions
		if wa, ok := action.(k8stesting.WatchActionImpl); ok {
			opts = wa.ListOptions
		}
		w, err := tracker.Watch(action.GetResource(), action.GetNamespace(), opts)
		return err == nil, w, err
	})
	return f
}

// versionObjects gives the fake API server what the exporter relies on to share objects with
// other writers: a resourceVersion and UID on every object and optimistic concurrency (an
// update carrying a resourceVersion other than the stored one fails with a conflict). The
// fake trackers store neither. Reactions run under the fake's lock, so the check and the
// write that follows it are atomic.
func (f *fakeCluster) versionObjects(fake *k8stesting.Fake, tracker k8stesting.ObjectTracker) {
	var version int64
	stamp := func(obj runtime.Object) {
		version++
		m, _ := meta.Accessor(obj)
		m.SetResourceVersion(strconv.FormatInt(version, 10))
		if m.GetUID() == "" {
			m.SetUID(types.UID(fmt.Sprintf("%s-uid-%d", f.name, version)))
		}
	}
	fake.PrependReactor("create", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
		stamp(action.(k8stesting.CreateAction).GetObject())
		return false, nil, nil
	})
	fake.PrependReactor("update", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
		obj := action.(k8stesting.UpdateAction).GetObject()
		m, _ := meta.Accessor(obj)
		if cur, err := tracker.Get(action.GetResource(), action.GetNamespace(), m.GetName()); err == nil {
			cm, _ := meta.Accessor(cur)
			if m.GetResourceVersion() != "" && m.GetResourceVersion() != cm.GetResourceVersion() {
				return true, nil, apierrors.NewConflict(action.GetResource().GroupResource(), m.GetName(),
					fmt.Errorf("resourceVersion %s is not the stored %s", m.GetResourceVersion(), cm.GetResourceVersion()))
			}
			m.SetUID(cm.GetUID())
		}
		stamp(obj)
		return false, nil, nil
	})
}

func (f *fakeCluster) cluster() Cluster { return Cluster{Name: f.name, Kube: f.kube, MCS: f.mcs} }

// runExporter runs Run over the clusters until the test ends.
func runExporter(t *testing.T, clusters ...*fakeCluster) {
	t.Helper()
	var cs []Cluster
	for _, f := range clusters {
		cs = append(cs, f.cluster())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cs, t.Logf) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// eventually retries check until it returns nil, for up to 10 seconds.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Objects as the API server and kube-controller-manager write them.

func service(name string, mutate ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS, UID: types.UID("svc-" + name)},
		Spec: corev1.ServiceSpec{
			Type:            corev1.ServiceTypeClusterIP,
			ClusterIP:       "10.96.0.10",
			ClusterIPs:      []string{"10.96.0.10"},
			IPFamilies:      []corev1.IPFamily{corev1.IPv4Protocol},
			SessionAffinity: corev1.ServiceAffinityNone,
			Ports:           []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80}},
			Selector:        map[string]string{"app": name},
		},
	}
	for _, m := range mutate {
		m(s)
	}
	return s
}

func export(name string, created time.Time) *mcsv1beta1.ServiceExport {
	return &mcsv1beta1.ServiceExport{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: testNS, CreationTimestamp: metav1.NewTime(created),
	}}
}

// kcmSlice is a slice as kube-controller-manager's EndpointSlice controller writes it.
func kcmSlice(svc, name string, addrs ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: testNS,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: svc,
				discoveryv1.LabelManagedBy:   "endpointslice-controller.k8s.io",
				"app":                        svc,
			},
			Annotations: map[string]string{"endpoints.kubernetes.io/last-change-trigger-time": "2026-12-07T20:00:00Z"},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Service", Name: svc, UID: types.UID("svc-" + svc),
				Controller: ptrTo(true), BlockOwnerDeletion: ptrTo(true),
			}},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptrTo("http"), Protocol: ptrTo(corev1.ProtocolTCP), Port: ptrTo[int32](8080)}},
	}
	for i, a := range addrs {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses: []string{a},
			Conditions: discoveryv1.EndpointConditions{
				Ready: ptrTo(true), Serving: ptrTo(true), Terminating: ptrTo(false),
			},
			Hostname:  ptrTo(fmt.Sprintf("%s-%d", svc, i)),
			NodeName:  ptrTo("node-a"),
			Zone:      ptrTo("zone-a"),
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: testNS, Name: fmt.Sprintf("%s-%d", svc, i), UID: "pod"},
		})
	}
	return s
}

// Reads.

func (f *fakeCluster) getImport(name string) (*mcsv1beta1.ServiceImport, error) {
	return f.mcs.MulticlusterV1beta1().ServiceImports(testNS).Get(context.Background(), name, metav1.GetOptions{})
}

func (f *fakeCluster) getExport(name string) (*mcsv1beta1.ServiceExport, error) {
	return f.mcs.MulticlusterV1beta1().ServiceExports(testNS).Get(context.Background(), name, metav1.GetOptions{})
}

// copies lists the MCS slices of svc in f by name.
func (f *fakeCluster) copies(svc string) (map[string]*discoveryv1.EndpointSlice, error) {
	list, err := f.kube.DiscoveryV1().EndpointSlices(testNS).List(context.Background(),
		metav1.ListOptions{LabelSelector: mcsv1beta1.LabelServiceName + "=" + svc})
	if err != nil {
		return nil, err
	}
	out := map[string]*discoveryv1.EndpointSlice{}
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out, nil
}

// noImport reports an error unless f has no ServiceImport called name.
func (f *fakeCluster) noImport(name string) error {
	_, err := f.getImport(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%s: ServiceImport %s still exists", f.name, name)
}

// Writes.

func (f *fakeCluster) create(t *testing.T, objs ...runtime.Object) {
	t.Helper()
	ctx := context.Background()
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *corev1.Service:
			_, err = f.kube.CoreV1().Services(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *discoveryv1.EndpointSlice:
			_, err = f.kube.DiscoveryV1().EndpointSlices(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *mcsv1beta1.ServiceExport:
			_, err = f.mcs.MulticlusterV1beta1().ServiceExports(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *mcsv1beta1.ServiceImport:
			_, err = f.mcs.MulticlusterV1beta1().ServiceImports(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		default:
			t.Fatalf("create: unexpected %T", o)
		}
		if err != nil {
			t.Fatalf("%s: create: %v", f.name, err)
		}
	}
}

func (f *fakeCluster) updateSlice(t *testing.T, s *discoveryv1.EndpointSlice) {
	t.Helper()
	if _, err := f.kube.DiscoveryV1().EndpointSlices(s.Namespace).Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("%s: update slice: %v", f.name, err)
	}
}

func (f *fakeCluster) updateService(t *testing.T, s *corev1.Service) {
	t.Helper()
	if _, err := f.kube.CoreV1().Services(s.Namespace).Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("%s: update service: %v", f.name, err)
	}
}

func (f *fakeCluster) delete(t *testing.T, kind, name string) {
	t.Helper()
	ctx := context.Background()
	var err error
	switch kind {
	case "Service":
		err = f.kube.CoreV1().Services(testNS).Delete(ctx, name, metav1.DeleteOptions{})
	case "EndpointSlice":
		err = f.kube.DiscoveryV1().EndpointSlices(testNS).Delete(ctx, name, metav1.DeleteOptions{})
	case "ServiceExport":
		err = f.mcs.MulticlusterV1beta1().ServiceExports(testNS).Delete(ctx, name, metav1.DeleteOptions{})
	default:
		t.Fatalf("delete: unexpected kind %s", kind)
	}
	if err != nil {
		t.Fatalf("%s: delete %s %s: %v", f.name, kind, name, err)
	}
}

func ptrTo[T any](v T) *T { return &v }
