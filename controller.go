package multicluster

import (
	"context"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/workqueue"
	mcsclient "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned"

	"github.com/mcs-dns/multicluster/internal/object"
	"github.com/mcs-dns/multicluster/internal/watch"
	"github.com/mcs-dns/multicluster/internal/zone"
)

// watchState is where the controller stands; it is exported as a metric and drives
// Ready() and the answers for missing names.
type watchState int32

const (
	stateStarting watchState = iota
	stateCRDMissing
	stateForbidden
	stateUnreachable
	stateSyncing
	stateSynced
	// stateStale: synced once, but the API server cannot be listed or watched now;
	// answers come from the last known state, which is what they should be.
	stateStale
)

var stateNames = [...]string{"starting", "crd_missing", "forbidden", "unreachable", "syncing", "synced", "stale"}

func (s watchState) String() string { return stateNames[s] }

// barrier is queued once both stores have synced: when the worker reaches it, every
// service queued during the initial list has been published.
var barrier = object.ServiceKey{}

// controller keeps the index current with what the watches (internal/watch) tell it.
// Store changes only queue the affected service; a single worker rebuilds queued
// services one at a time, so a service's records are never built from two different
// views of the stores at once, and bursts (relists) collapse into one rebuild per
// service.
type controller struct {
	index   *zone.Index
	zoneLen int
	// watch is what the watches run on; unit tests adjust it before start.
	watch   watch.Config
	watches *watch.Watches

	queue workqueue.TypedInterface[object.ServiceKey]

	state   atomic.Int32
	ready   atomic.Bool   // latched: see Ready
	settled chan struct{} // closed once the first outcome (synced, or a reason not to wait) is known
	once    sync.Once

	mu      sync.Mutex
	changed map[object.ServiceKey]time.Time // when a queued service first changed, for the freshness histogram
	// changedPeak is the most services changed was holding since it was last made;
	// a map never shrinks, so once drained after a burst (a start, a relist) it is
	// made anew rather than keep a table sized for every service.
	changedPeak int

	skips *skipLog
	// unlisted logs slices from clusters status.clusters does not list (status.go).
	unlisted unlistedLog
	// gauges are this instance's gauges (gauges.go); nil in tests that have none.
	gauges *gauges

	cancel context.CancelFunc
	done   sync.WaitGroup

	// loc is the local cluster and locality options; clusterID, when set, watches the
	// ClusterProperty that names the local cluster (internal/watch/clusterid.go).
	loc       *locality
	clusterID *watch.ClusterIDWatch
}

func newController(kube kubernetes.Interface, mcs mcsclient.Interface, x *zone.Index, zoneLen int) *controller {
	return &controller{
		index:   x,
		zoneLen: zoneLen,
		watch:   watch.Config{Kube: kube, MCS: mcs, RetryMax: 10 * time.Second, Log: log},
		queue:   workqueue.NewTypedWithConfig(workqueue.TypedQueueConfig[object.ServiceKey]{Name: ""}),
		settled: make(chan struct{}),
		changed: map[object.ServiceKey]time.Time{},
		skips:   newSkipLog(),
	}
}

// synced reports whether the index holds every service: an NXDOMAIN is then true.
func (c *controller) synced() bool {
	s := watchState(c.state.Load())
	return s == stateSynced || s == stateStale
}

func (c *controller) setState(s watchState) {
	c.state.Store(int32(s))
	c.gauges.setWatchState(s)
	if s == stateSynced || s == stateCRDMissing {
		c.ready.Store(true)
	}
	if s == stateSynced || s == stateCRDMissing || s == stateForbidden {
		c.once.Do(func() { close(c.settled) })
	}
}

// start runs the controller until stop. It returns at once; use waitSettled to wait
// for the first sync.
func (c *controller) start() {
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.watches = watch.New(c.watch, c)
	c.setState(stateStarting)
	c.done.Add(1)
	go func() {
		defer c.done.Done()
		c.run(ctx)
	}()
	if c.clusterID != nil {
		c.done.Add(1)
		go func() {
			defer c.done.Done()
			c.clusterID.Run(ctx)
		}()
	}
}

// waitSettled waits until the watches synced, a reason not to wait is known (CRD
// missing, access forbidden), or timeout passed.
func (c *controller) waitSettled(timeout time.Duration) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.settled:
	case <-t.C:
		log.Warningf("Watches not synced after %s (%s); would-be NXDOMAIN answers are SERVFAIL until they are", timeout, watchState(c.state.Load()))
	}
}

// stop ends the watches and the worker, and waits for their goroutines.
func (c *controller) stop() {
	if c.cancel != nil {
		c.cancel()
	}
	c.queue.ShutDown()
	c.done.Wait()
}

func (c *controller) run(ctx context.Context) {
	if !c.watches.Discover(ctx) {
		return
	}
	c.setState(stateSyncing)
	c.done.Add(1)
	go func() {
		defer c.done.Done()
		for c.processNext() {
		}
	}()
	c.done.Add(1)
	go func() {
		defer c.done.Done()
		c.watches.Run(ctx)
	}()

	// A store is synced once it has told the controller of every object of its
	// first list, so the barrier queued after both follows every service the initial
	// lists queued.
	if !c.watches.WaitListed(ctx) {
		return
	}
	c.queue.Add(barrier)
	<-ctx.Done()
}

// enqueue queues a service for a rebuild and remembers when it first changed.
func (c *controller) enqueue(k object.ServiceKey) {
	c.mu.Lock()
	if _, ok := c.changed[k]; !ok {
		c.changed[k] = time.Now()
		c.changedPeak = max(c.changedPeak, len(c.changed))
	}
	c.mu.Unlock()
	c.queue.Add(k)
}

// processNext rebuilds one queued service; it returns false when the queue shuts down.
func (c *controller) processNext() bool {
	k, shutdown := c.queue.Get()
	if shutdown {
		return false
	}
	defer c.queue.Done(k)
	if k == barrier {
		c.setState(stateSynced)
		imports, slices := c.watches.Len()
		log.Infof("Synced: %d ServiceImports, %d EndpointSlices", imports, slices)
		// The initial list decoded every object in full; only the trimmed copies
		// remain. Hand the garbage back to the OS now rather than over the minutes the
		// runtime's scavenger takes, so a pod's memory after start-up is what it
		// keeps (a few times less than the list peak on large ClusterSets).
		debug.FreeOSMemory()
		return true
	}
	if k == rebuildAll {
		c.rebuildEvery()
		return true
	}
	c.mu.Lock()
	since, timed := c.changed[k]
	delete(c.changed, k)
	if len(c.changed) == 0 && c.changedPeak > 1024 {
		c.changed, c.changedPeak = map[object.ServiceKey]time.Time{}, 0
	}
	c.mu.Unlock()

	c.rebuild(k)
	if timed && c.synced() {
		updateDuration.Observe(time.Since(since).Seconds())
	}
	return true
}

// rebuild builds the records of one service from the stores and publishes them.
func (c *controller) rebuild(k object.ServiceKey) {
	si := c.watches.Import(k)
	var eps []*object.EndpointSlice
	if si != nil {
		eps = c.watches.AppendSlices(eps, k)
	}
	var bad []object.Skip
	r := zone.BuildLocal(si, eps, c.zoneLen, c.loc.localFor(si), func(reason, detail string) {
		bad = append(bad, object.Skip{Reason: reason, Value: detail})
	})
	c.skips.report("Service", k.Namespace, k.Name, bad)
	c.unlisted.report(k, si, eps)
	_, totals := c.index.Publish(k, r)
	c.gauges.setTotals(totals)
}
