package multicluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	discovery "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"
	mcsscheme "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned/scheme"
)

// The informers are built on list-watchers that report every list and watch call's
// outcome to the controller, so it knows when the API server goes away and when it is
// back (the informers themselves only say so in client-go's own log).

const (
	resourceImports = "serviceimports"
	resourceSlices  = "endpointslices"
)

// newInformers creates the EndpointSlice informer (only slices labelled with a
// service name) and the ServiceImport informer for the served version. With a REST
// config, both watch through clients that skip decoding what the informer holds
// already (slicewatch.go, importwatch.go); lists, the fallback when the API server
// cannot stream one, go through the clientsets.
func (c *controller) newInformers() {
	slices := c.kube.DiscoveryV1().EndpointSlices(metav1.NamespaceAll)
	labelled := func(o metav1.ListOptions) metav1.ListOptions { o.LabelSelector = labelServiceName; return o }
	watchSlices := func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		return slices.Watch(ctx, labelled(o))
	}
	if client := c.watchClient(resourceSlices, func(cfg *rest.Config) (rest.Interface, error) {
		return newSliceWatchClient(cfg, c.knownSlice)
	}); client != nil {
		watchSlices = func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return watchResource(ctx, client, scheme.ParameterCodec, resourceSlices, labelled(o))
		}
	}
	c.slices = cache.NewSharedIndexInformer(reportingListWatch(c, resourceSlices,
		func(ctx context.Context, o metav1.ListOptions) (*discovery.EndpointSliceList, error) {
			return slices.List(ctx, labelled(o))
		}, watchSlices), &discovery.EndpointSlice{}, 0, cache.Indexers{})

	var watchImports func(context.Context, metav1.ListOptions) (watch.Interface, error)
	if client := c.watchClient(resourceImports, func(cfg *rest.Config) (rest.Interface, error) {
		return newImportWatchClient(cfg, c.version, c.knownImport, c.noImports)
	}); client != nil {
		watchImports = func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return watchResource(ctx, client, mcsscheme.ParameterCodec, resourceImports, o)
		}
	}
	if c.version == "v1beta1" {
		api := c.mcs.MulticlusterV1beta1().ServiceImports(metav1.NamespaceAll)
		if watchImports == nil {
			watchImports = api.Watch
		}
		c.imports = cache.NewSharedIndexInformer(reportingListWatch(c, resourceImports, api.List, watchImports),
			&mcsv1beta1.ServiceImport{}, 0, cache.Indexers{})
		return
	}
	api := c.mcs.MulticlusterV1alpha1().ServiceImports(metav1.NamespaceAll)
	if watchImports == nil {
		watchImports = api.Watch
	}
	c.imports = cache.NewSharedIndexInformer(reportingListWatch(c, resourceImports, api.List, watchImports),
		&mcsv1alpha1.ServiceImport{}, 0, cache.Indexers{})
}

// watchClient builds the REST client a resource is watched with, or returns nil (the
// clientset watches) without a REST config or when it cannot be built.
func (c *controller) watchClient(resource string, build func(*rest.Config) (rest.Interface, error)) rest.Interface {
	if c.cfg == nil {
		return nil
	}
	client, err := build(c.cfg)
	if err != nil {
		log.Warningf("Watching %s through the clientset: %v", resource, err)
		return nil
	}
	return client
}

// watchResource is what a typed client's Watch does, over client; params encodes the
// options for the client's group version.
func watchResource(ctx context.Context, client rest.Interface, params runtime.ParameterCodec, resource string, o metav1.ListOptions) (watch.Interface, error) {
	var timeout time.Duration
	if o.TimeoutSeconds != nil {
		timeout = time.Duration(*o.TimeoutSeconds) * time.Second
	}
	o.Watch = true
	return client.Get().Resource(resource).VersionedParams(&o, params).Timeout(timeout).Watch(ctx)
}

// reportingListWatch is a list-watcher over list and watch that reports each call's
// outcome for resource to apiResult.
func reportingListWatch[L runtime.Object](c *controller, resource string,
	list func(context.Context, metav1.ListOptions) (L, error),
	watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error)) *cache.ListWatch {
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			l, err := list(ctx, o)
			return l, c.apiResult(resource, err)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			w, err := watchFn(ctx, o)
			return w, c.apiResult(resource, err)
		},
	}
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
