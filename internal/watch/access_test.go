package watch

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	fakediscovery "k8s.io/client-go/discovery/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	mcsfake "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned/fake"
)

// fakeAPI returns fake clientsets whose discovery serves ServiceImports of version.
// They cannot review access (they would answer "not allowed"): unless a test's reactor
// comes first, the watches fall back to their list probe.
func fakeAPI(version string) (*kubefake.Clientset, *mcsfake.Clientset) {
	kube, mcs := kubefake.NewClientset(), mcsfake.NewSimpleClientset()
	kube.Discovery().(*fakediscovery.FakeDiscovery).Resources = []*metav1.APIResourceList{{
		GroupVersion: mcsGroup + "/" + version,
		APIResources: []metav1.APIResource{{Name: resourceImports, Namespaced: true, Kind: "ServiceImport"}},
	}}
	kube.PrependReactor("create", "selfsubjectaccessreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("no access reviews in the fake clientset")
	})
	return kube, mcs
}

// TestAccessCheckedWithReviews: access is checked with SelfSubjectAccessReviews (list
// and watch of both resources), not with a LIST; a denied verb blocks the watches as
// forbidden.
func TestAccessCheckedWithReviews(t *testing.T) {
	for _, tc := range []struct {
		name   string
		denied string // "verb resource" the review denies
	}{
		{"all allowed", ""},
		{"watch of endpointslices denied", "watch endpointslices"},
		{"list of serviceimports denied", "list serviceimports"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kube, mcs := fakeAPI("v1beta1")
			var reviews atomic.Int32
			kube.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
				r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview)
				attr := r.Spec.ResourceAttributes
				reviews.Add(1)
				r.Status.Allowed = attr.Verb+" "+attr.Resource != tc.denied
				return true, r, nil
			})
			rec := &recorder{}
			w := New(Config{Kube: kube, MCS: mcs, RetryMax: 50 * time.Millisecond, Log: &testLog{}}, rec)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.denied != "" {
				done := make(chan bool)
				go func() { done <- w.Discover(ctx) }()
				waitFor(t, "the forbidden block", func() bool { return rec.has("blocked forbidden") })
				cancel()
				if <-done {
					t.Error("discovery succeeded although a review denied access")
				}
			} else {
				if !w.Discover(ctx) {
					t.Fatal("discovery did not succeed")
				}
				done := make(chan struct{})
				go func() { w.Run(ctx); close(done) }()
				listed, stop := context.WithTimeout(ctx, 5*time.Second)
				if !w.WaitListed(listed) {
					t.Error("the watches did not list")
				}
				stop()
				cancel()
				<-done
			}
			if reviews.Load() == 0 {
				t.Error("no access review was made")
			}
			if tc.denied != "" {
				for _, a := range mcs.Actions() {
					if a.GetVerb() == "list" || a.GetVerb() == "watch" {
						t.Errorf("a denied review still led to %s %s", a.GetVerb(), a.GetResource().Resource)
					}
				}
			}
		})
	}
}
