package watch

import (
	"context"
	"fmt"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mcs-dns/multicluster/internal/object"
)

// checkAccess checks that this identity may list and watch ServiceImports (of the
// served version) and EndpointSlices cluster-wide, so that a missing RBAC rule is one
// clear log line instead of a reflector error every second.
//
// It asks the API server with SelfSubjectAccessReviews (which every authenticated
// identity may create) rather than with a LIST: the reflectors' initial lists are
// streamed (WatchList), so start-up costs the API server no LIST at all. Where the
// reviews cannot be created, a one-item LIST of each resource answers the same
// question.
func (w *Watches) checkAccess(ctx context.Context) error {
	checks := []struct{ group, version, resource string }{
		{mcsGroup, w.version, resourceImports},
		{"discovery.k8s.io", "v1", resourceSlices},
	}
	for _, ch := range checks {
		for _, verb := range []string{"list", "watch"} {
			review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Group: ch.group, Version: ch.version, Resource: ch.resource},
			}}
			got, err := w.cfg.Kube.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
			if err != nil {
				return w.listProbe(ctx)
			}
			if !got.Status.Allowed {
				return apierrors.NewForbidden(schema.GroupResource{Group: ch.group, Resource: ch.resource}, "",
					fmt.Errorf("%s is not allowed %s", verb, got.Status.Reason))
			}
		}
	}
	return nil
}

// listProbe lists one item of each resource.
func (w *Watches) listProbe(ctx context.Context) error {
	var err error
	if w.version == "v1beta1" {
		_, err = w.cfg.MCS.MulticlusterV1beta1().ServiceImports(metav1.NamespaceAll).List(ctx, metav1.ListOptions{Limit: 1})
	} else {
		_, err = w.cfg.MCS.MulticlusterV1alpha1().ServiceImports(metav1.NamespaceAll).List(ctx, metav1.ListOptions{Limit: 1})
	}
	if err == nil {
		_, err = w.cfg.Kube.DiscoveryV1().EndpointSlices(metav1.NamespaceAll).List(ctx, metav1.ListOptions{Limit: 1, LabelSelector: object.LabelServiceName})
	}
	return err
}
