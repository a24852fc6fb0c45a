// Package exporter is the agent of a ClusterSet: it turns the ServiceExports of every member
// cluster into ServiceImports and imported EndpointSlices in every member cluster, the part that
// Submariner Lighthouse's agent, Cilium's ClusterMesh MCS support and the mcs-api e2e play
// (KEP-1645, "Exporting Services" and "Importing Services").
//
// It owns, in every cluster:
//   - the ServiceImport of each exported service (spec fields derived from the exported
//     Services, status.clusters), never its spec.ips nor the derived-service annotation, which
//     the mcs-api servicecontroller of that cluster writes;
//   - copies of the exporting clusters' EndpointSlices, labelled with
//     multicluster.kubernetes.io/service-name and multicluster.kubernetes.io/source-cluster
//     and with ManagedBy as their endpointslice.kubernetes.io/managed-by;
//   - the Valid, Ready and Conflict conditions of its ServiceExports.
//
// Every change of an input enqueues its service; a worker per cluster then compares what that
// cluster holds with what the exports of all clusters ask for and writes only the difference
// (level-based, so a restart or a missed event heals on the next pass).
package exporter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	mcsclient "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned"
)

// ManagedBy marks what the exporter writes: the endpointslice.kubernetes.io/managed-by value
// of its EndpointSlice copies and the app.kubernetes.io/managed-by value of its ServiceImports.
// kube-controller-manager's EndpointSlice controller only touches slices whose managed-by is
// its own ("endpointslice-controller.k8s.io"), so a copy must carry another value, as
// Lighthouse's ("lighthouse-agent.submariner.io", pkg/constants/constants.go) and Cilium's
// ("endpointslice-mesh-controller.cilium.io", pkg/clustermesh/endpointslicesync) do.
const ManagedBy = "mcs-exporter.clusterset.test"

// workersPerCluster is the number of services reconciled at once in one cluster. A cluster
// whose API server hangs stalls only its own workers.
const workersPerCluster = 2

// Cluster is one member cluster of the ClusterSet as the exporter sees it.
type Cluster struct {
	Name string               // the cluster id, written as the multicluster.kubernetes.io/source-cluster label
	Kube kubernetes.Interface // k8s.io/client-go/kubernetes
	MCS  mcsclient.Interface  // sigs.k8s.io/mcs-api/pkg/client/clientset/versioned
}

// Run keeps every cluster's imports and imported slices in step with the ServiceExports of all
// clusters until ctx is done. It returns early only when it cannot start (e.g. a CRD missing).
func Run(ctx context.Context, clusters []Cluster, logf func(format string, args ...any)) error {
	e, err := newExporter(clusters, logf)
	if err != nil {
		return err
	}
	if err := e.start(ctx); err != nil {
		e.stop()
		return err
	}
	e.work(ctx)
	e.stop()
	return nil
}

// exporter holds the members and their queues.
type exporter struct {
	members []*member
	logf    func(format string, args ...any)

	cancel context.CancelFunc // stops the informers
	wg     sync.WaitGroup     // informers and workers
}

func newExporter(clusters []Cluster, logf func(format string, args ...any)) (*exporter, error) {
	if len(clusters) == 0 {
		return nil, errors.New("exporter: no clusters")
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	e := &exporter{logf: logf}
	seen := map[string]bool{}
	for _, c := range clusters {
		if err := validClusterName(c.Name); err != nil {
			return nil, err
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("exporter: cluster %q given twice", c.Name)
		}
		seen[c.Name] = true
		if c.Kube == nil || c.MCS == nil {
			return nil, fmt.Errorf("exporter: cluster %q: missing Kube or MCS client", c.Name)
		}
		e.members = append(e.members, newMember(c))
	}
	return e, nil
}

// validClusterName checks a cluster id: it is a label value (source-cluster), part of object
// names (the copies' names) and, per the ClusterStatus field of mcs-api, an RFC 1123 DNS label.
func validClusterName(name string) error {
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return fmt.Errorf("exporter: cluster name %q: %v", name, errs)
	}
	return nil
}

// start checks that every cluster serves what the exporter needs, starts the informers and
// waits until all of them hold a full list, so the first reconcile sees every cluster.
func (e *exporter) start(ctx context.Context) error {
	for _, m := range e.members {
		if err := m.preflight(ctx); err != nil {
			return err
		}
	}
	ictx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	var synced []cache.InformerSynced
	for _, m := range e.members {
		m.addHandlers(e)
		for _, inf := range m.informers() {
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				inf.RunWithContext(ictx)
			}()
			synced = append(synced, inf.HasSynced)
		}
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return fmt.Errorf("exporter: waiting for the informers: %w", ctx.Err())
	}
	e.logf("exporter: watching %d clusters", len(e.members))
	return nil
}

// work runs the workers of every cluster until ctx is done.
func (e *exporter) work(ctx context.Context) {
	for _, m := range e.members {
		for range workersPerCluster {
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				for e.processNext(ctx, m) {
				}
			}()
		}
	}
	<-ctx.Done()
	for _, m := range e.members {
		m.queue.ShutDown()
	}
}

// stop ends the informers and waits for every goroutine.
func (e *exporter) stop() {
	if e.cancel != nil {
		e.cancel()
	}
	for _, m := range e.members {
		m.queue.ShutDown()
	}
	e.wg.Wait()
}

// enqueue schedules a service (namespace/name) for every cluster: an export, a Service or a
// slice in one cluster changes what all of them should hold.
func (e *exporter) enqueue(key string) {
	for _, m := range e.members {
		m.queue.Add(key)
	}
}

// processNext reconciles one service in m's cluster; on an error it retries with the queue's
// exponential back-off (conflicts with another writer and unreachable API servers both heal).
func (e *exporter) processNext(ctx context.Context, m *member) bool {
	key, quit := m.queue.Get()
	if quit {
		return false
	}
	defer m.queue.Done(key)
	if err := e.reconcile(ctx, m, key); err != nil {
		if ctx.Err() == nil {
			e.logf("exporter: %s: %s: %v (retrying)", m.Name, key, err)
		}
		m.queue.AddRateLimited(key)
		return true
	}
	m.queue.Forget(key)
	return true
}

// Retry back-off of a service that failed: doubling from retryMin up to retryMax. client-go's
// default controller limiter goes up to 1000 s: after an API server has been away for a
// minute, its pending writes would wait minutes more once it is back.
const (
	retryMin = 5 * time.Millisecond
	retryMax = 30 * time.Second
)

// newQueue is the work queue of one cluster.
func newQueue(cluster string) workqueue.TypedRateLimitingInterface[string] {
	return workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](retryMin, retryMax),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "exporter-" + cluster},
	)
}
