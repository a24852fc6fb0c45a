package watch

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	fakediscovery "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clientfeatures "k8s.io/client-go/features"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// watchListOn reports client-go's WatchListClient feature as on, as it is in CoreDNS
// (client-go 0.35+), whatever TestMain set for the fake clientsets.
type watchListOn struct{ clientfeatures.Gates }

func (g watchListOn) Enabled(k clientfeatures.Feature) bool {
	return k == clientfeatures.WatchListClient || g.Gates.Enabled(k)
}

// TestClusterPropertyWatchLogsEachProblemOnce: with streaming lists (the initial list
// comes over the watch, KEP-3157) a healthy reflector never lists, so the end of a
// problem shows in the watch call alone. Each problem's start and end are logged once:
// a failure, the recovery, and the same failure again.
func TestClusterPropertyWatchLogsEachProblemOnce(t *testing.T) {
	gates := clientfeatures.FeatureGates()
	clientfeatures.ReplaceFeatureGates(watchListOn{gates})
	t.Cleanup(func() { clientfeatures.ReplaceFeatureGates(gates) })
	logs := &testLog{}

	kube := kubefake.NewClientset()
	gvr := schema.GroupVersionResource{Group: clusterPropertyGroup, Version: "v1beta1", Resource: "clusterproperties"}
	kube.Discovery().(*fakediscovery.FakeDiscovery).Resources = []*metav1.APIResourceList{{
		GroupVersion: gvr.GroupVersion().String(),
		APIResources: []metav1.APIResource{{Name: gvr.Resource, Kind: "ClusterProperty"}},
	}}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{gvr: "ClusterPropertyList"})
	forbidden := apierrors.NewForbidden(gvr.GroupResource(), clusterPropertyName, errors.New("no RBAC"))
	var failing atomic.Bool
	failing.Store(true)
	var mu sync.Mutex
	var open []*watch.RaceFreeFakeWatcher
	// A LIST is the reflector's fallback when the streamed list fails: it fails too.
	dyn.PrependReactor("list", "clusterproperties", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, forbidden
	})
	dyn.PrependWatchReactor("clusterproperties", func(k8stesting.Action) (bool, watch.Interface, error) {
		if failing.Load() {
			return true, nil, forbidden
		}
		// An empty streamed list: only the bookmark that ends it.
		w := watch.NewRaceFreeFake()
		end := &unstructured.Unstructured{}
		end.SetResourceVersion("1")
		end.SetAnnotations(map[string]string{"k8s.io/initial-events-end": "true"})
		w.Action(watch.Bookmark, end)
		mu.Lock()
		open = append(open, w)
		mu.Unlock()
		return true, w, nil
	})
	w := NewClusterIDWatch(kube.Discovery(), dyn, 50*time.Millisecond, logs, func(string) {})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	const problem, recovered = "RBAC forbids reading it", "Recovered: " + clusterIDTopic + " watch"
	waitFor(t, "the problem logged", func() bool { return logs.count(problem) == 1 })
	failing.Store(false)
	waitFor(t, "the recovery logged", func() bool { return logs.count(recovered) == 1 })

	// The same problem again: the open watch ends and RBAC forbids the next one.
	failing.Store(true)
	mu.Lock()
	for _, o := range open {
		o.Stop()
	}
	mu.Unlock()
	waitFor(t, "the second failure logged", func() bool { return logs.count(problem) == 2 })
	time.Sleep(300 * time.Millisecond) // retries at up to 50 ms: none may log again
	if n := logs.count(problem); n != 2 {
		t.Errorf("the problem was logged %d times, want 2 (once per start)", n)
	}
	if n := logs.count(recovered); n != 1 {
		t.Errorf("the recovery was logged %d times, want 1", n)
	}
}
