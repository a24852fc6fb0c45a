package watch

import (
	"context"
	"math/rand/v2"
	"time"

	discovery "k8s.io/api/discovery/v1"
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
// outcome (outage.go), so the Handler knows when the API server goes away and when it
// is back (the reflectors themselves only say so in client-go's own log).

const (
	resourceImports = "serviceimports"
	resourceSlices  = "endpointslices"
)

// newReflectors returns the reflectors that fill the stores (store.go): one for
// EndpointSlices (only slices labelled with a service name), one for ServiceImports of
// the served version. With a REST config, both watch through clients that hand on the
// stored copy of what the store holds already (slicewatch.go, importwatch.go); lists,
// the fallback when the API server cannot stream one, go through the clientsets.
func (w *Watches) newReflectors() []resourceWatch {
	slices := w.cfg.Kube.DiscoveryV1().EndpointSlices(metav1.NamespaceAll)
	labelled := func(o metav1.ListOptions) metav1.ListOptions { o.LabelSelector = object.LabelServiceName; return o }
	watchSlices := func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		return slices.Watch(ctx, labelled(o))
	}
	if client := w.watchClient(resourceSlices, func(cfg *rest.Config) (rest.Interface, error) {
		return newSliceWatchClient(cfg, storedIn(w.slices))
	}); client != nil {
		watchSlices = func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return watchResource(ctx, client, scheme.ParameterCodec, resourceSlices, labelled(o))
		}
	}
	reflectors := []resourceWatch{{resourceSlices, reflector("discovery.k8s.io/v1 EndpointSlices", w.slices,
		reportingListWatch(w, resourceSlices, func(ctx context.Context, o metav1.ListOptions) (*discovery.EndpointSliceList, error) {
			return slices.List(ctx, labelled(o))
		}, watchSlices))}}

	var watchImports func(context.Context, metav1.ListOptions) (watch.Interface, error)
	if client := w.watchClient(resourceImports, func(cfg *rest.Config) (rest.Interface, error) {
		return newImportWatchClient(cfg, w.version, storedIn(w.imports), func() bool { return !w.imports.hasSynced() })
	}); client != nil {
		watchImports = func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return watchResource(ctx, client, mcsscheme.ParameterCodec, resourceImports, o)
		}
	}
	var lw *cache.ListWatch
	if w.version == "v1beta1" {
		api := w.cfg.MCS.MulticlusterV1beta1().ServiceImports(metav1.NamespaceAll)
		if watchImports == nil {
			watchImports = api.Watch
		}
		lw = reportingListWatch(w, resourceImports, api.List, watchImports)
	} else {
		api := w.cfg.MCS.MulticlusterV1alpha1().ServiceImports(metav1.NamespaceAll)
		if watchImports == nil {
			watchImports = api.Watch
		}
		lw = reportingListWatch(w, resourceImports, api.List, watchImports)
	}
	return append(reflectors, resourceWatch{resourceImports,
		reflector(mcsGroup+"/"+w.version+" ServiceImports", w.imports, lw)})
}

// resourceWatch is the reflector of one resource.
type resourceWatch struct {
	resource  string
	reflector *cache.Reflector
}

// reflector returns a reflector that fills store from lw. It is given no expected
// type: its watch yields API objects and, for versions the store holds, the stored
// trimmed ones.
func reflector(what string, store *objectStore, lw *cache.ListWatch) *cache.Reflector {
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

// reflect runs r's reflector until ctx ends; every failure is reported to apiResult
// (which logs it once) rather than to client-go's log line per retry.
func (w *Watches) reflect(ctx context.Context, r resourceWatch) {
	delay := reflectRetryFirst
	for ctx.Err() == nil {
		start := time.Now()
		if err := r.reflector.ListAndWatchWithContext(ctx); err != nil {
			w.apiResult(r.resource, err)
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
func (w *Watches) watchClient(resource string, build func(*rest.Config) (rest.Interface, error)) rest.Interface {
	if w.cfg.REST == nil {
		return nil
	}
	client, err := build(w.cfg.REST)
	if err != nil {
		w.log.Warningf("Watching %s through the clientset: %v", resource, err)
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
func reportingListWatch[L runtime.Object](w *Watches, resource string,
	list func(context.Context, metav1.ListOptions) (L, error),
	watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error)) *cache.ListWatch {
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			l, err := list(ctx, o)
			return l, w.apiResult(resource, err)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			wi, err := watchFn(ctx, o)
			return wi, w.apiResult(resource, err)
		},
	}
}
