package multicluster

import (
	"k8s.io/client-go/dynamic"

	"github.com/mcs-dns/multicluster/internal/object"
	"github.com/mcs-dns/multicluster/internal/watch"
)

// The local cluster's identity, when the Corefile does not give it, comes from the
// ClusterProperty watch (internal/watch/clusterid.go): a new id rebuilds every service
// once.

// rebuildAll is queued when the local cluster id changes: the worker then rebuilds
// every service, in its own goroutine like any other rebuild.
var rebuildAll = object.ServiceKey{Name: "\x00rebuild-all"}

// newClusterIDWatch returns a watch that sets c.loc from the ClusterProperty and
// rebuilds every service when it changes.
func (c *controller) newClusterIDWatch(dyn dynamic.Interface) *watch.ClusterIDWatch {
	return watch.NewClusterIDWatch(c.watch.Kube.Discovery(), dyn, c.watch.RetryMax, log, func(id string) {
		c.loc.set(id)
		c.queue.Add(rebuildAll)
	})
}

// rebuildEvery rebuilds every service, after the local cluster id changed.
func (c *controller) rebuildEvery() {
	for _, k := range c.watches.Services() {
		c.rebuild(k)
	}
}
