package multicluster

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"
)

// TestReadyDoesNotFlap: a replica that was ready stays ready when the CRD is installed
// while RBAC does not yet allow listing it, through the sync that follows, and through
// an outage. Turning unready would take every replica (and cluster.local) down at once.
func TestReadyDoesNotFlap(t *testing.T) {
	f := newFakeCluster("v1beta1")
	var installed, allowed atomic.Bool
	f.kube.PrependReactor("get", "resource", func(k8stesting.Action) (bool, runtime.Object, error) {
		if installed.Load() {
			return false, nil, nil
		}
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Group: mcsGroup, Resource: "serviceimports"}, "")
	})
	f.mcs.PrependReactor("list", "serviceimports", func(k8stesting.Action) (bool, runtime.Object, error) {
		if allowed.Load() {
			return false, nil, nil
		}
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: mcsGroup, Resource: "serviceimports"}, "", nil)
	})
	m := startPlugin(t, f)
	if !m.Ready() {
		t.Fatalf("not ready with the CRD missing (state %s)", watchState(m.ctrl.state.Load()))
	}

	// The CRD appears before the RBAC that allows listing it.
	installed.Store(true)
	eventually(t, "the forbidden state", func() bool { return watchState(m.ctrl.state.Load()) == stateForbidden })
	if !m.Ready() {
		t.Error("a CRD installed before its RBAC made a ready replica unready")
	}
	if rcode, _ := query(t, m, "nope.shop.svc.clusterset.local.", dns.TypeA); rcode != dns.RcodeServerFailure {
		t.Errorf("missing name while forbidden: %s, want SERVFAIL", dns.RcodeToString[rcode])
	}

	// RBAC granted: the sync completes, and it stays ready all along.
	if _, err := f.mcs.MulticlusterV1beta1().ServiceImports("shop").Create(context.TODO(),
		clusterSetIP("shop", "web", []string{"10.42.0.1"}, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	allowed.Store(true)
	eventually(t, "answers once allowed", answers(t, m, "web.shop.svc.clusterset.local.", dns.TypeA, dns.RcodeSuccess, "10.42.0.1"))
	eventually(t, "synced", m.ctrl.synced)

	// An outage after the sync.
	m.ctrl.APIFailed() // what the watches tell of a failing call (internal/watch outage.go)
	if !m.Ready() || watchState(m.ctrl.state.Load()) != stateStale {
		t.Errorf("outage: ready %v, state %s; want ready and stale", m.Ready(), watchState(m.ctrl.state.Load()))
	}
}

// TestNotReadyBeforeFirstSyncWhenForbidden: a replica that never synced because RBAC
// forbids it stays unready, so a broken rollout stops.
func TestNotReadyBeforeFirstSyncWhenForbidden(t *testing.T) {
	f := newFakeCluster("v1beta1")
	f.mcs.PrependReactor("list", "serviceimports", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: mcsGroup, Resource: "serviceimports"}, "", nil)
	})
	m := startPlugin(t, f)
	if m.Ready() {
		t.Error("ready although RBAC forbids the first sync")
	}
}
