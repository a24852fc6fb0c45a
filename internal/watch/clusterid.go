package watch

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"

	"github.com/mcs-dns/multicluster/internal/object"
)

// The local cluster's identity, when the Corefile does not give it, is the about-api
// ClusterProperty "cluster.clusterset.k8s.io" (KEP-2149): cluster-scoped, group
// about.k8s.io, its id in spec.value (kubernetes-sigs/about-api,
// config/crd/about.k8s.io_clusterproperties.yaml serves v1beta1 and v1alpha1 with the
// same spec). It is read with the dynamic client, since the about-api Go module is not
// a dependency, and watched: each new id is told (the plugin then rebuilds every
// service once).

const clusterPropertyName = "cluster.clusterset.k8s.io"

// clusterPropertyGroup and its versions, newest first.
var (
	clusterPropertyGroup    = "about.k8s.io"
	clusterPropertyVersions = []string{"v1beta1", "v1alpha1"}
)

// ClusterIDWatch tells the local cluster id, the ClusterProperty's value, each time it
// changes.
type ClusterIDWatch struct {
	disc     discovery.DiscoveryInterface
	dyn      dynamic.Interface
	changed  func(id string)
	retryMax time.Duration
	log      Logger
	// id is the id last told; the informer calls its handlers one at a time.
	id string

	problems problemLog
}

// NewClusterIDWatch returns a watch of the ClusterProperty that calls changed with the
// new local cluster id ("" when unknown) each time it changes; the id starts unknown.
// Discovery retries back off up to retryMax.
func NewClusterIDWatch(disc discovery.DiscoveryInterface, dyn dynamic.Interface, retryMax time.Duration, log Logger, changed func(id string)) *ClusterIDWatch {
	return &ClusterIDWatch{disc: disc, dyn: dyn, changed: changed, retryMax: retryMax, log: log, problems: problemLog{log: log}}
}

// problem logs a ClusterProperty problem once per kind: a missing CRD as information
// (locality is optional), anything else as a warning.
func (w *ClusterIDWatch) problem(topic, kind string, err error) {
	logf := w.log.Warningf
	if kind == "crd_missing" {
		logf = w.log.Infof
	}
	w.problems.report(topic, kind, err, logf)
}

const clusterIDTopic = "ClusterProperty " + clusterPropertyName

// Run finds the served ClusterProperty version, retrying with backoff while the CRD is
// missing (one log line, no locality meanwhile), then watches the one object until
// ctx ends.
func (w *ClusterIDWatch) Run(ctx context.Context) {
	delay := 250 * time.Millisecond
	var version string
	for {
		var err error
		version, err = w.discover()
		if version != "" {
			break
		}
		kind := "crd_missing"
		if err != nil {
			kind = "unreachable"
		} else {
			err = fmt.Errorf("%s: no ClusterProperty CRD (clusterproperties.%s) served: no local cluster, no locality in answers", clusterIDTopic, clusterPropertyGroup)
		}
		w.problem(clusterIDTopic, kind, err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, w.retryMax)
	}
	w.problem(clusterIDTopic, "", nil)

	res := w.dyn.Resource(schema.GroupVersionResource{Group: clusterPropertyGroup, Version: version, Resource: "clusterproperties"})
	// Only the one object: list and watch select it by name, which RBAC can grant with
	// resourceNames (deploy/rbac.yaml).
	byName := fields.OneTermEqualSelector("metadata.name", clusterPropertyName).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = byName
			l, err := res.List(ctx, o)
			if err == nil {
				w.problem(clusterIDTopic+" watch", "", nil)
			}
			return l, err
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = byName
			wi, err := res.Watch(ctx, o)
			if err == nil {
				// With streaming lists (KEP-3157, on in client-go 0.35+) a healthy
				// reflector only watches: a watch that opens ends the problem.
				w.problem(clusterIDTopic+" watch", "", nil)
			}
			return wi, err
		},
	}
	inf := cache.NewSharedIndexInformer(lw, &unstructured.Unstructured{}, 0, cache.Indexers{})
	_ = inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
		kind := "unreachable"
		if apierrors.IsForbidden(err) {
			kind = "forbidden"
			err = fmt.Errorf("%s: RBAC forbids reading it (grant get, list and watch on clusterproperties.%s named %s): no locality in answers: %w",
				clusterIDTopic, clusterPropertyGroup, clusterPropertyName, err)
		} else {
			err = fmt.Errorf("%s: %w", clusterIDTopic, err)
		}
		w.problem(clusterIDTopic+" watch", kind, err)
	})
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.apply(obj) },
		UpdateFunc: func(_, obj any) { w.apply(obj) },
		DeleteFunc: func(any) { w.set("") },
	})
	inf.RunWithContext(ctx)
}

// discover returns the newest served ClusterProperty version, or "" when none is.
func (w *ClusterIDWatch) discover() (string, error) {
	v, err := servedVersion(w.disc, clusterPropertyGroup, clusterPropertyVersions, "clusterproperties")
	if err != nil {
		return "", fmt.Errorf("%s: cannot ask the API server which versions it serves: %w", clusterIDTopic, err)
	}
	return v, nil
}

// apply reads the cluster id from a ClusterProperty.
func (w *ClusterIDWatch) apply(obj any) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok || u.GetName() != clusterPropertyName {
		return
	}
	v, _, _ := unstructured.NestedString(u.Object, "spec", "value")
	id := strings.ToLower(v)
	if !object.IsSubdomain(id) {
		// Cluster ids are DNS subdomains (KEP-2149); another value cannot match a
		// source-cluster label.
		w.log.Warningf("%s: spec.value %q is not a DNS subdomain: no locality in answers", clusterIDTopic, v)
		id = ""
	}
	w.set(id)
}

func (w *ClusterIDWatch) set(id string) {
	if id == w.id {
		return
	}
	w.id = id
	if id == "" {
		w.log.Infof("Local cluster unknown (%s absent): answers are not narrowed", clusterIDTopic)
	} else {
		w.log.Infof("Local cluster is %q (%s)", id, clusterIDTopic)
	}
	w.changed(id)
}
