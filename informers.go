package multicluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	discovery "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	mcsscheme "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned/scheme"

	"github.com/mcs-dns/multicluster/internal/object"
)

// The reflectors are built on list-watchers that report every list and watch call's
// outcome to the controller, so it knows when the API server goes away and when it is
// back (the reflectors themselves only say so in client-go's own log).

const (
	resourceImports = "serviceimports"
	resourceSlices  = "endpointslices"
)

// newWatches creates the stores (store.go) and the reflectors that fill them: one for
// EndpointSlices (only slices labelled with a service name), one for ServiceImports of
// the served version. With a REST config, both watch through clients that hand on the
// stored copy of what the store holds already (slicewatch.go, importwatch.go); lists,
// the fallback when the API server cannot stream one, go through the clientsets.
func (c *controller) newWatches() {
	c.imports = newObjectStore(c.opts.Transform, c.onImport, nil)
	c.slices = newObjectStore(object.TransformSlice, c.onSlice, sliceService)

	slices := c.kube.DiscoveryV1().EndpointSlices(metav1.NamespaceAll)
	labelled := func(o metav1.ListOptions) metav1.ListOptions { o.LabelSelector = object.LabelServiceName; return o }
	watchSlices := func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		return slices.Watch(ctx, labelled(o))
	}
	if client := c.watchClient(resourceSlices, func(cfg *rest.Config) (rest.Interface, error) {
		return newSliceWatchClient(cfg, storedIn(c.slices))
	}); client != nil {
		watchSlices = func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return watchResource(ctx, client, scheme.ParameterCodec, resourceSlices, labelled(o))
		}
	}
	c.watches = []resourceWatch{{resourceSlices, c.reflector("discovery.k8s.io/v1 EndpointSlices", c.slices,
		reportingListWatch(c, resourceSlices, func(ctx context.Context, o metav1.ListOptions) (*discovery.EndpointSliceList, error) {
			return slices.List(ctx, labelled(o))
		}, watchSlices))}}

	var watchImports func(context.Context, metav1.ListOptions) (watch.Interface, error)
	if client := c.watchClient(resourceImports, func(cfg *rest.Config) (rest.Interface, error) {
		return newImportWatchClient(cfg, c.version, storedIn(c.imports), func() bool { return !c.imports.hasSynced() })
	}); client != nil {
		watchImports = func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return watchResource(ctx, client, mcsscheme.ParameterCodec, resourceImports, o)
		}
	}
	var lw *cache.ListWatch
	if c.version == "v1beta1" {
		api := c.mcs.MulticlusterV1beta1().ServiceImports(metav1.NamespaceAll)
		if watchImports == nil {
			watchImports = api.Watch
		}
		lw = reportingListWatch(c, resourceImports, api.List, watchImports)
	} else {
		api := c.mcs.MulticlusterV1alpha1().ServiceImports(metav1.NamespaceAll)
		if watchImports == nil {
			watchImports = api.Watch
		}
		lw = reportingListWatch(c, resourceImports, api.List, watchImports)
	}
	c.watches = append(c.watches, resourceWatch{resourceImports,
		c.reflector(mcsGroup+"/"+c.version+" ServiceImports", c.imports, lw)})
}

// resourceWatch is the reflector of one resource.
type resourceWatch struct {
	resource  string
	reflector *cache.Reflector
}

// reflector returns a reflector that fills store from lw. It is given no expected
// type: its watch yields API objects and, for versions the store holds, the stored
// trimmed ones.
func (c *controller) reflector(what string, store *objectStore, lw *cache.ListWatch) *cache.Reflector {
	return cache.NewReflectorWithOptions(lw, nil, store, cache.ReflectorOptions{Name: "multicluster " + what, TypeDescription: what})
}

// storedIn adapts a store's lookup to the watch decoders.
func storedIn(s *objectStore) storedVersion {
	return func(namespace, name, rv string) runtime.Object {
		o, _ := s.stored(namespace, name, rv).(runtime.Object)
		return o
	}
}

// sliceService is the service an EndpointSlice belongs to (the slice store's index).
func sliceService(obj any) (object.ServiceKey, bool) {
	s, ok := obj.(*object.EndpointSlice)
	if !ok || s.Service == "" {
		return object.ServiceKey{}, false
	}
	return object.ServiceKey{Namespace: s.Namespace, Name: s.Service}, true
}

// Retrying a reflector whose list or watch failed: client-go's schedule (800 ms
// doubling to 30 s, each wait up to twice as long with jitter), started over after a
// watch that lasted.
const (
	reflectRetryFirst = 800 * time.Millisecond
	reflectRetryMax   = 30 * time.Second
	reflectRetryReset = 2 * time.Minute
)

// reflect runs w's reflector until ctx ends; every failure is reported to apiResult
// (which logs it once) rather than to client-go's log line per retry.
func (c *controller) reflect(ctx context.Context, w resourceWatch) {
	delay := reflectRetryFirst
	for ctx.Err() == nil {
		start := time.Now()
		if err := w.reflector.ListAndWatchWithContext(ctx); err != nil {
			c.apiResult(w.resource, err)
		}
		if time.Since(start) > reflectRetryReset {
			delay = reflectRetryFirst
		}
		t := time.NewTimer(delay + rand.N(delay))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, reflectRetryMax)
	}
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

// restClientFor returns a REST client for the API group version gv under /apis, sending
// contentType, accepting accept, and decoding with serializer.
func restClientFor(cfg *rest.Config, gv schema.GroupVersion, contentType, accept string, serializer runtime.NegotiatedSerializer) (rest.Interface, error) {
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &gv
	c.APIPath = "/apis"
	c.ContentType = contentType
	c.AcceptContentTypes = accept
	c.NegotiatedSerializer = serializer
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	return rest.RESTClientFor(c)
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
