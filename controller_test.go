package multicluster

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
	discovery "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	fakediscovery "k8s.io/client-go/discovery/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"
	mcsfake "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned/fake"
)

// The API the fake cluster serves, as the watches (internal/watch) ask for it.
const (
	mcsGroup        = "multicluster.x-k8s.io"
	resourceImports = "serviceimports"
	resourceSlices  = "endpointslices"
)

// fakeCluster is an API server made of client-go's and mcs-api's fake clientsets.
type fakeCluster struct {
	kube *kubefake.Clientset
	mcs  *mcsfake.Clientset

	mu      sync.Mutex
	watched map[string]bool // resources a watch was opened on
}

// recordWatches notes every watch opened. The fake clientsets' watches do not start
// from the listed resource version: an object created after the list and before the
// watch is never seen, so tests that create objects once the plugin runs wait for
// both watches first (a real API server replays from the version).
func (f *fakeCluster) recordWatches() {
	for _, c := range []struct {
		fake    *k8stesting.Fake
		tracker k8stesting.ObjectTracker
	}{{&f.kube.Fake, f.kube.Tracker()}, {&f.mcs.Fake, f.mcs.Tracker()}} {
		c.fake.PrependWatchReactor("*", func(action k8stesting.Action) (bool, watch.Interface, error) {
			var opts metav1.ListOptions
			if wa, ok := action.(k8stesting.WatchActionImpl); ok {
				opts = wa.ListOptions
			}
			w, err := c.tracker.Watch(action.GetResource(), action.GetNamespace(), opts)
			if err != nil {
				return false, nil, err
			}
			f.mu.Lock()
			f.watched[action.GetResource().Resource] = true
			f.mu.Unlock()
			return true, w, nil
		})
	}
}

// waitWatching waits until both resources are watched, if the plugin synced.
func (f *fakeCluster) waitWatching(t *testing.T, m *MultiCluster) {
	t.Helper()
	if !m.ctrl.synced() {
		return
	}
	eventually(t, "the fake watches", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.watched[resourceImports] && f.watched[resourceSlices]
	})
}

func newFakeCluster(versions ...string) *fakeCluster {
	f := &fakeCluster{kube: kubefake.NewClientset(), mcs: mcsfake.NewSimpleClientset(), watched: map[string]bool{}}
	f.recordWatches()
	f.serve(versions...)
	// The fake clientset cannot review access (it would answer "not allowed"): the
	// controller falls back to its list probe, which the tests' reactors control.
	f.kube.PrependReactor("create", "selfsubjectaccessreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("no access reviews in the fake clientset")
	})
	return f
}

// serve sets the ServiceImport versions discovery reports.
func (f *fakeCluster) serve(versions ...string) {
	var lists []*metav1.APIResourceList
	for _, v := range versions {
		lists = append(lists, &metav1.APIResourceList{
			GroupVersion: mcsGroup + "/" + v,
			APIResources: []metav1.APIResource{{Name: "serviceimports", Namespaced: true, Kind: "ServiceImport"}},
		})
	}
	f.kube.Discovery().(*fakediscovery.FakeDiscovery).Resources = lists
}

// startPlugin runs a plugin with a controller on the fake cluster, like OnStartup does.
func startPlugin(t *testing.T, f *fakeCluster) *MultiCluster {
	t.Helper()
	m := New([]string{"clusterset.local."})
	m.ctrl = newController(f.kube, f.mcs, m.index, m.longestZone())
	m.ctrl.watch.RetryMax = 50 * time.Millisecond
	m.ctrl.start()
	t.Cleanup(m.ctrl.stop)
	m.ctrl.waitSettled(5 * time.Second)
	f.waitWatching(t, m)
	return m
}

// query runs one query through ServeDNS and returns the rcode and the answer section
// (the rcode ServeDNS returns when it writes nothing itself, such as SERVFAIL).
func query(t *testing.T, m *MultiCluster, name string, qtype uint16) (int, []dns.RR) {
	t.Helper()
	w := dnstest.NewRecorder(&test.ResponseWriter{})
	rcode, err := m.ServeDNS(context.TODO(), w, test.Case{Qname: name, Qtype: qtype}.Msg())
	if err != nil {
		t.Fatalf("ServeDNS: %v", err)
	}
	if w.Msg == nil {
		return rcode, nil
	}
	return w.Msg.Rcode, w.Msg.Answer
}

// eventually polls cond for up to 5 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// answers returns a function that reports whether name/qtype answers exactly want
// (rdata strings, in any order).
func answers(t *testing.T, m *MultiCluster, name string, qtype uint16, rcode int, want ...string) func() bool {
	return func() bool {
		got, rrs := query(t, m, name, qtype)
		if got != rcode || len(rrs) != len(want) {
			return false
		}
		have := map[string]bool{}
		for _, rr := range rrs {
			have[rr.String()[len(rr.Header().String()):]] = true
		}
		for _, w := range want {
			if !have[w] {
				return false
			}
		}
		return true
	}
}

const dbName = "db.shop.svc.clusterset.local."

func TestControllerAnyOrderUpdatesAndDeletes(t *testing.T) {
	f := newFakeCluster("v1alpha1", "v1beta1")
	m := startPlugin(t, f)
	if !m.ctrl.synced() || !m.Ready() {
		t.Fatal("controller should have synced on an empty cluster")
	}
	ctx := context.TODO()
	// A slice before its ServiceImport: no name yet (only ServiceImports create names).
	es := slice("shop", "db-east", "db", "east", ipv4, tcp5432, ready("db-0", "10.1.0.10"))
	if _, err := f.kube.DiscoveryV1().EndpointSlices("shop").Create(ctx, es, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "slice without import to be NXDOMAIN", answers(t, m, dbName, dns.TypeA, dns.RcodeNameError))
	changes := m.index.Serial().Changes()

	si := headlessImport("shop", "db", nil, sp("tcp", tcp, 5432))
	if _, err := f.mcs.MulticlusterV1beta1().ServiceImports("shop").Create(ctx, si, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the import to publish the slice's address", answers(t, m, dbName, dns.TypeA, dns.RcodeSuccess, "10.1.0.10"))
	eventually(t, "the per-endpoint name", answers(t, m, "db-0.east."+dbName, dns.TypeA, dns.RcodeSuccess, "10.1.0.10"))
	if n := m.index.Serial().Changes(); n == changes {
		t.Error("no change recorded (the serial would not move) when the ServiceImport was added")
	} else {
		changes = n
	}

	// A second cluster's slice, then a change to the first.
	west := slice("shop", "db-west", "db", "west.us", ipv4, tcp5432, ready("db-0", "10.2.0.10"))
	if _, err := f.kube.DiscoveryV1().EndpointSlices("shop").Create(ctx, west, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the second cluster", answers(t, m, dbName, dns.TypeA, dns.RcodeSuccess, "10.1.0.10", "10.2.0.10"))
	es = slice("shop", "db-east", "db", "east", ipv4, tcp5432, ready("db-0", "10.1.0.10"), ready("db-1", "10.1.0.11"))
	if _, err := f.kube.DiscoveryV1().EndpointSlices("shop").Update(ctx, es, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the updated slice", answers(t, m, dbName, dns.TypeA, dns.RcodeSuccess, "10.1.0.10", "10.1.0.11", "10.2.0.10"))
	if n := m.index.Serial().Changes(); n == changes {
		t.Error("no change recorded (the serial would not move) on slice changes")
	}
	changes = m.index.Serial().Changes()

	// An update that changes nothing an answer depends on must not move the serial.
	es.Annotations = map[string]string{"touched": "yes"}
	es.ResourceVersion = "7"
	if _, err := f.kube.DiscoveryV1().EndpointSlices("shop").Update(ctx, es, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Then a real change behind it, to know the first one was processed.
	if err := f.kube.DiscoveryV1().EndpointSlices("shop").Delete(ctx, "db-west", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted slice", answers(t, m, dbName, dns.TypeA, dns.RcodeSuccess, "10.1.0.10", "10.1.0.11"))
	if n := m.index.Serial().Changes() - changes; n != 1 {
		t.Errorf("%d changes recorded for one real change and one no-op update, want 1", n)
	}
	eventually(t, "the deleted cluster's name", answers(t, m, "db-0.west.us."+dbName, dns.TypeA, dns.RcodeNameError))

	// Deleting the ServiceImport removes every name, and the namespace.
	if err := f.mcs.MulticlusterV1beta1().ServiceImports("shop").Delete(ctx, "db", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted import", answers(t, m, dbName, dns.TypeA, dns.RcodeNameError))
	eventually(t, "the empty namespace", answers(t, m, "shop.svc.clusterset.local.", dns.TypeA, dns.RcodeNameError))
}

func TestControllerV1alpha1Only(t *testing.T) {
	f := newFakeCluster("v1alpha1")
	m := startPlugin(t, f)
	if v := m.ctrl.watches.Version(); v != "v1alpha1" {
		t.Fatalf("watching %q, want v1alpha1", v)
	}
	if _, err := f.mcs.MulticlusterV1alpha1().ServiceImports("legacy").Create(context.TODO(), alphaImport("legacy", "old", "10.42.1.1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the v1alpha1 import", answers(t, m, "old.legacy.svc.clusterset.local.", dns.TypeA, dns.RcodeSuccess, "10.42.1.1"))
}

func TestControllerCRDMissingThenInstalled(t *testing.T) {
	f := newFakeCluster("v1beta1")
	// Discovery says the group version is not found until the CRD is "installed".
	var installed atomic.Bool
	f.kube.PrependReactor("get", "resource", func(k8stesting.Action) (bool, runtime.Object, error) {
		if installed.Load() {
			return false, nil, nil
		}
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Group: mcsGroup, Resource: "serviceimports"}, "")
	})
	m := startPlugin(t, f)
	if got := watchState(m.ctrl.state.Load()); got != stateCRDMissing {
		t.Fatalf("state %s, want crd_missing", got)
	}
	if !m.Ready() {
		t.Error("a missing CRD must not hold the pod unready")
	}
	if rcode, _ := query(t, m, dbName, dns.TypeA); rcode != dns.RcodeServerFailure {
		t.Errorf("rcode %s while the CRD is missing, want SERVFAIL", dns.RcodeToString[rcode])
	}
	// The apex still answers.
	if rcode, rrs := query(t, m, "clusterset.local.", dns.TypeSOA); rcode != dns.RcodeSuccess || len(rrs) != 1 {
		t.Errorf("apex SOA: rcode %s, %d records", dns.RcodeToString[rcode], len(rrs))
	}
	if _, err := f.mcs.MulticlusterV1beta1().ServiceImports("shop").Create(context.TODO(),
		clusterSetIP("shop", "web", []string{"10.42.0.1"}, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	installed.Store(true)
	eventually(t, "answers after the CRD appears", answers(t, m, "web.shop.svc.clusterset.local.", dns.TypeA, dns.RcodeSuccess, "10.42.0.1"))
	eventually(t, "NXDOMAIN once synced", answers(t, m, "nope.shop.svc.clusterset.local.", dns.TypeA, dns.RcodeNameError))
}

func TestControllerForbidden(t *testing.T) {
	f := newFakeCluster("v1beta1")
	f.mcs.PrependReactor("list", "serviceimports", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: mcsGroup, Resource: "serviceimports"}, "", nil)
	})
	m := startPlugin(t, f)
	if got := watchState(m.ctrl.state.Load()); got != stateForbidden {
		t.Fatalf("state %s, want forbidden", got)
	}
	if m.Ready() {
		t.Error("forbidden access must keep the plugin unready")
	}
	if rcode, _ := query(t, m, dbName, dns.TypeA); rcode != dns.RcodeServerFailure {
		t.Errorf("rcode %s while forbidden, want SERVFAIL", dns.RcodeToString[rcode])
	}
	m.Fall.SetZonesFromArgs(nil)
	m.Next = test.NextHandler(dns.RcodeRefused, nil)
	if rcode, _ := query(t, m, dbName, dns.TypeA); rcode != dns.RcodeRefused {
		t.Errorf("with fallthrough the next plugin should answer, got %s", dns.RcodeToString[rcode])
	}
}

// TestControllerStops checks that stop ends every goroutine the controller started.
func TestControllerStops(t *testing.T) {
	f := newFakeCluster("v1beta1")
	m := New([]string{"clusterset.local."})
	c := newController(f.kube, f.mcs, m.index, m.longestZone())
	c.start()
	c.waitSettled(5 * time.Second)
	done := make(chan struct{})
	go func() { c.stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("stop did not return: goroutines still running")
	}
}

// TestSliceWithoutServiceLabelIgnored: slices whose service label changes move their
// addresses from the old service to the new one.
func TestSliceMovesBetweenServices(t *testing.T) {
	f := newFakeCluster("v1beta1")
	m := startPlugin(t, f)
	ctx := context.TODO()
	for _, name := range []string{"a", "b"} {
		if _, err := f.mcs.MulticlusterV1beta1().ServiceImports("shop").Create(ctx, headlessImport("shop", name, nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	es := slice("shop", "s1", "a", "east", ipv4, nil, ready("x", "10.9.0.1"))
	if _, err := f.kube.DiscoveryV1().EndpointSlices("shop").Create(ctx, es, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a", answers(t, m, "a.shop.svc.clusterset.local.", dns.TypeA, dns.RcodeSuccess, "10.9.0.1"))
	es.Labels[mcsv1beta1.LabelServiceName] = "b"
	es.AddressType = discovery.AddressTypeIPv4
	if _, err := f.kube.DiscoveryV1().EndpointSlices("shop").Update(ctx, es, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b", answers(t, m, "b.shop.svc.clusterset.local.", dns.TypeA, dns.RcodeSuccess, "10.9.0.1"))
	eventually(t, "a emptied", answers(t, m, "a.shop.svc.clusterset.local.", dns.TypeA, dns.RcodeNameError))
}

// TestOutageServesLastKnownState: after the first sync a failing API server turns the
// state to stale, which still answers (NXDOMAIN included) and stays ready; the watches'
// recovery turns it back (which failures count, and when every resource has recovered:
// internal/watch TestOutageIsToldOnce).
func TestOutageServesLastKnownState(t *testing.T) {
	f := newFakeCluster("v1beta1")
	m := startPlugin(t, f)
	if _, err := f.mcs.MulticlusterV1beta1().ServiceImports("shop").Create(context.TODO(),
		clusterSetIP("shop", "web", []string{"10.42.0.1"}, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "web", answers(t, m, "web.shop.svc.clusterset.local.", dns.TypeA, dns.RcodeSuccess, "10.42.0.1"))

	m.ctrl.APIFailed()
	if got := watchState(m.ctrl.state.Load()); got != stateStale {
		t.Fatalf("state %s during an outage, want stale", got)
	}
	if !m.Ready() {
		t.Error("an outage after the first sync must not make the plugin unready")
	}
	if !answers(t, m, "web.shop.svc.clusterset.local.", dns.TypeA, dns.RcodeSuccess, "10.42.0.1")() ||
		!answers(t, m, "nope.shop.svc.clusterset.local.", dns.TypeA, dns.RcodeNameError)() {
		t.Error("answers during an outage must be the last known ones")
	}
	m.ctrl.APIFailed()
	if got := watchState(m.ctrl.state.Load()); got != stateStale {
		t.Fatalf("state %s after a second failure, want stale", got)
	}
	m.ctrl.APIRecovered()
	if got := watchState(m.ctrl.state.Load()); got != stateSynced {
		t.Fatalf("state %s after recovery, want synced", got)
	}
}
