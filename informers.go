package multicluster

import (
	"context"
	"errors"
	"fmt"

	discovery "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"
)

// The informers are built on list-watchers that report every list and watch call's
// outcome to the controller, so it knows when the API server goes away and when it is
// back (the informers themselves only say so in client-go's own log).

const (
	resourceImports = "serviceimports"
	resourceSlices  = "endpointslices"
)

// newInformers creates the EndpointSlice informer (only slices labelled with a
// service name) and the ServiceImport informer for the served version.
func (c *controller) newInformers() {
	c.slices = cache.NewSharedIndexInformer(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = labelServiceName
			l, err := c.kube.DiscoveryV1().EndpointSlices(metav1.NamespaceAll).List(ctx, o)
			return l, c.apiResult(resourceSlices, err)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = labelServiceName
			w, err := c.kube.DiscoveryV1().EndpointSlices(metav1.NamespaceAll).Watch(ctx, o)
			return w, c.apiResult(resourceSlices, err)
		},
	}, &discovery.EndpointSlice{}, 0, cache.Indexers{})

	var lw *cache.ListWatch
	var example runtime.Object
	if c.version == "v1beta1" {
		api := c.mcs.MulticlusterV1beta1()
		example = &mcsv1beta1.ServiceImport{}
		lw = &cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				l, err := api.ServiceImports(metav1.NamespaceAll).List(ctx, o)
				return l, c.apiResult(resourceImports, err)
			},
			WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				w, err := api.ServiceImports(metav1.NamespaceAll).Watch(ctx, o)
				return w, c.apiResult(resourceImports, err)
			},
		}
	} else {
		api := c.mcs.MulticlusterV1alpha1()
		example = &mcsv1alpha1.ServiceImport{}
		lw = &cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				l, err := api.ServiceImports(metav1.NamespaceAll).List(ctx, o)
				return l, c.apiResult(resourceImports, err)
			},
			WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				w, err := api.ServiceImports(metav1.NamespaceAll).Watch(ctx, o)
				return w, c.apiResult(resourceImports, err)
			},
		}
	}
	c.imports = cache.NewSharedIndexInformer(lw, example, 0, cache.Indexers{})
}

// apiResult records the outcome of a list or watch call of resource and returns err.
// A failure after the first sync turns the state to stale (answers keep coming from
// the last known state); the first success after it turns it back to synced. Each
// problem is logged once, and its end once.
func (c *controller) apiResult(resource string, err error) error {
	if err != nil && (errors.Is(err, context.Canceled) || apierrors.IsResourceExpired(err) || apierrors.IsGone(err)) {
		return err // shutting down, or a normal relist after a compaction
	}
	c.apiMu.Lock()
	defer c.apiMu.Unlock()
	if err == nil {
		if c.failing[resource] {
			delete(c.failing, resource)
			c.problem(resource, "", nil)
			if len(c.failing) == 0 && watchState(c.state.Load()) == stateStale {
				c.setState(stateSynced)
			}
		}
		return nil
	}
	c.failing[resource] = true
	if watchState(c.state.Load()) == stateSynced {
		c.setState(stateStale)
	}
	switch {
	case apierrors.IsForbidden(err):
		// Also seen for a few seconds while a restarted API server loads its RBAC
		// caches, so say both.
		c.problem(resource, "forbidden", fmt.Errorf("listing or watching %s is forbidden (missing RBAC, or an API server still starting); serving the last known state: %w", resource, err))
	case apierrors.IsNotFound(err):
		c.problem(resource, "not_found", fmt.Errorf("%s are no longer served (CRD deleted?); serving the last known state: %w", resource, err))
	default:
		c.problem(resource, "unreachable", fmt.Errorf("cannot list or watch %s; serving the last known state until it resumes: %w", resource, err))
	}
	return err
}
