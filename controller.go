package multicluster

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"
	mcsclient "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned"

	"github.com/mcs-dns/multicluster/internal/object"
	"github.com/mcs-dns/multicluster/internal/zone"
)

// mcsGroup is the API group of ServiceImport.
const mcsGroup = "multicluster.x-k8s.io"

// Versions of ServiceImport, newest first: the controller watches the first one the
// API server serves (spec §1).
var importVersions = []string{"v1beta1", "v1alpha1"}

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

var (
	errCRDMissing = errors.New("the ServiceImport CRD (serviceimports." + mcsGroup + ") is not installed")
)

// barrier is queued once both stores have synced: when the worker reaches it, every
// service queued during the initial list has been published.
var barrier = object.ServiceKey{}

// controller watches ServiceImports and EndpointSlices and keeps the index current.
// Store changes only queue the affected service; a single worker rebuilds queued
// services one at a time, so a service's records are never built from two different
// views of the stores at once, and bursts (relists) collapse into one rebuild per
// service.
type controller struct {
	kube kubernetes.Interface
	// cfg, when set, builds the REST clients the watches use (slicewatch.go,
	// importwatch.go); unit tests with fake clientsets leave it nil and watch
	// through the clientsets.
	cfg      *rest.Config
	mcs      mcsclient.Interface
	index    *zone.Index
	zoneLen  int
	retryMax time.Duration
	opts     object.ImportOptions // how ServiceImports are read (internal/object/compat.go)

	queue   workqueue.TypedInterface[object.ServiceKey]
	imports *objectStore
	slices  *objectStore
	watches []resourceWatch
	version string

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

	problems problemLog

	apiMu   sync.Mutex
	failing map[string]bool // resources whose last list or watch call failed

	cancel context.CancelFunc
	done   sync.WaitGroup

	// loc is the local cluster and locality options; clusterID, when set, watches the
	// ClusterProperty that names the local cluster (clusterid.go).
	loc       *locality
	clusterID *clusterIDWatch
}

func newController(kube kubernetes.Interface, mcs mcsclient.Interface, x *zone.Index, zoneLen int) *controller {
	return &controller{
		kube:     kube,
		mcs:      mcs,
		index:    x,
		zoneLen:  zoneLen,
		retryMax: 10 * time.Second,
		queue:    workqueue.NewTypedWithConfig(workqueue.TypedQueueConfig[object.ServiceKey]{Name: ""}),
		settled:  make(chan struct{}),
		changed:  map[object.ServiceKey]time.Time{},
		failing:  map[string]bool{},
		skips:    newSkipLog(),
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
			c.clusterID.run(ctx)
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
	// Discover the served version and check access before starting the reflectors: a
	// reflector on a missing resource or without RBAC would log an error every
	// second; this logs one clear line and retries with backoff (spec: degrade, never
	// wedge).
	delay := 250 * time.Millisecond
	for {
		err := c.discover(ctx)
		if err == nil {
			break
		}
		c.problem("ServiceImport discovery and access", watchState(c.state.Load()).String(), err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, c.retryMax)
	}
	c.problem("ServiceImport discovery and access", "", nil)
	c.setState(stateSyncing)

	c.newWatches()
	c.done.Add(1)
	go func() {
		defer c.done.Done()
		for c.processNext() {
		}
	}()
	for _, w := range c.watches {
		c.done.Add(1)
		go func() {
			defer c.done.Done()
			c.reflect(ctx, w)
		}()
	}

	// A store is synced once it has told the controller of every object of its
	// first list, so the barrier queued after both follows every service the initial
	// lists queued.
	for _, s := range []*objectStore{c.imports, c.slices} {
		select {
		case <-s.listed:
		case <-ctx.Done():
			return
		}
	}
	c.queue.Add(barrier)
	<-ctx.Done()
}

// discover finds the served ServiceImport version and checks that this identity may
// list ServiceImports and EndpointSlices.
func (c *controller) discover(ctx context.Context) error {
	var err error
	c.version, err = servedVersion(c.kube.Discovery(), mcsGroup, importVersions, resourceImports)
	if err != nil {
		c.setState(stateUnreachable)
		return fmt.Errorf("cannot ask the API server which ServiceImport versions it serves: %w", err)
	}
	if c.version == "" {
		c.setState(stateCRDMissing)
		return fmt.Errorf("%w: answering SERVFAIL (or falling through) for this plugin's zones until it is", errCRDMissing)
	}
	err = c.checkAccess(ctx)
	switch {
	case err == nil:
		log.Infof("Watching ServiceImports %s/%s and EndpointSlices labelled %s", mcsGroup, c.version, object.LabelServiceName)
		return nil
	case apierrors.IsForbidden(err):
		c.setState(stateForbidden)
		return fmt.Errorf("RBAC forbids this plugin to list serviceimports.%s or endpointslices.discovery.k8s.io cluster-wide (grant list and watch on both); retrying: %w", mcsGroup, err)
	case apierrors.IsNotFound(err):
		c.setState(stateCRDMissing)
		return fmt.Errorf("%w: answering SERVFAIL (or falling through) for this plugin's zones until it is", errCRDMissing)
	default:
		c.setState(stateUnreachable)
		return fmt.Errorf("cannot check access to ServiceImports and EndpointSlices: %w", err)
	}
}

// onImport queues the service of a ServiceImport that was added, changed or deleted.
func (c *controller) onImport(oldObj, obj any, deleted bool) {
	si, ok := obj.(*object.ServiceImport)
	if !ok {
		return
	}
	if old, ok := oldObj.(*object.ServiceImport); ok && sameImport(old, si) {
		return // a relist, or a change to fields no answer depends on
	}
	if deleted {
		c.skips.forget("ServiceImport", si.Namespace, si.Name)
	} else {
		c.skips.report("ServiceImport", si.Namespace, si.Name, si.Bad)
	}
	c.enqueue(object.ServiceKey{Namespace: si.Namespace, Name: si.Name})
}

// onSlice queues the service of an EndpointSlice that was added, changed or deleted
// (and its former service when its label changed).
func (c *controller) onSlice(oldObj, obj any, deleted bool) {
	s, ok := obj.(*object.EndpointSlice)
	if !ok {
		return
	}
	if old, ok := oldObj.(*object.EndpointSlice); ok {
		if sameSlice(old, s) {
			return
		}
		if old.Service != s.Service {
			c.enqueue(object.ServiceKey{Namespace: old.Namespace, Name: old.Service})
		}
	}
	if deleted {
		c.skips.forget("EndpointSlice", s.Namespace, s.Name)
	} else {
		c.skips.report("EndpointSlice", s.Namespace, s.Name, s.Bad)
	}
	if s.Service != "" {
		c.enqueue(object.ServiceKey{Namespace: s.Namespace, Name: s.Service})
	}
}

// sameImport and sameSlice report whether two versions of an object give the same
// answers.
func sameImport(a, b *object.ServiceImport) bool {
	if a == b {
		return true // the stored copy, reused by a relist
	}
	x, y := *a, *b
	x.Meta, y.Meta = object.Meta{}, object.Meta{}
	return reflect.DeepEqual(x, y)
}

func sameSlice(a, b *object.EndpointSlice) bool {
	if a == b {
		return true
	}
	x, y := *a, *b
	x.Meta, y.Meta = object.Meta{}, object.Meta{}
	return reflect.DeepEqual(x, y)
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
		log.Infof("Synced: %d ServiceImports, %d EndpointSlices", c.imports.len(), c.slices.len())
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
	var si *object.ServiceImport
	if obj, ok := c.imports.get(k.Namespace, k.Name); ok {
		si, _ = obj.(*object.ServiceImport)
	}
	var eps []*object.EndpointSlice
	if si != nil {
		c.slices.ofService(k, func(o any) {
			if s, ok := o.(*object.EndpointSlice); ok {
				eps = append(eps, s)
			}
		})
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

// problem logs err for topic once per kind of problem (see problemLog).
func (c *controller) problem(topic, kind string, err error) {
	c.problems.report(topic, kind, err, log.Errorf)
}
