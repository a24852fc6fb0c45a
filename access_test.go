package multicluster

import (
	"sync/atomic"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

// TestAccessCheckedWithReviews: access is checked with SelfSubjectAccessReviews (list
// and watch of both resources), not with a LIST; a denied verb is the forbidden state.
func TestAccessCheckedWithReviews(t *testing.T) {
	for _, tc := range []struct {
		name   string
		denied string // "verb resource" the review denies
		want   watchState
	}{
		{"all allowed", "", stateSynced},
		{"watch of endpointslices denied", "watch endpointslices", stateForbidden},
		{"list of serviceimports denied", "list serviceimports", stateForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeCluster("v1beta1")
			var reviews atomic.Int32
			f.kube.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
				r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview)
				attr := r.Spec.ResourceAttributes
				reviews.Add(1)
				r.Status.Allowed = attr.Verb+" "+attr.Resource != tc.denied
				return true, r, nil
			})
			m := startPlugin(t, f)
			if got := watchState(m.ctrl.state.Load()); got != tc.want {
				t.Fatalf("state %s, want %s", got, tc.want)
			}
			if reviews.Load() == 0 {
				t.Error("no access review was made")
			}
			if tc.want == stateForbidden {
				for _, a := range f.mcs.Actions() {
					if a.GetVerb() == "list" || a.GetVerb() == "watch" {
						t.Errorf("a denied review still led to %s %s", a.GetVerb(), a.GetResource().Resource)
					}
				}
			}
		})
	}
}
