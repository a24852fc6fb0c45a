package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// createWorkers is how many requests createAll keeps in flight: enough to keep
// kube-apiserver and etcd busy on two cores (more only queues in the API server).
const createWorkers = 48

// createAll creates every ServiceImport, then every EndpointSlice (their namespaces
// must exist), each step with workers parallel requests. Unlike create, which works
// service by service, it spreads the slices of services exported by hundreds of
// clusters over all workers.
func (c *clients) createAll(ctx context.Context, svcs []service, workers int) error {
	if len(svcs) == 0 {
		return nil
	}
	err := parallel(ctx, len(svcs), workers, func(ctx context.Context, i int) error {
		s := svcs[i]
		if _, err := c.mcs.MulticlusterV1beta1().ServiceImports(s.namespace).Create(ctx, s.importObject(), metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating ServiceImport %s/%s: %w", s.namespace, s.name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	type ref struct{ svc, slice int }
	var refs []ref
	for i, s := range svcs {
		for k := range s.slices {
			refs = append(refs, ref{i, k})
		}
	}
	return parallel(ctx, len(refs), workers, func(ctx context.Context, j int) error {
		s, k := svcs[refs[j].svc], refs[j].slice
		if _, err := c.kube.DiscoveryV1().EndpointSlices(s.namespace).Create(ctx, s.sliceObject(k), metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating EndpointSlice %s/%s: %w", s.namespace, s.sliceName(k), err)
		}
		return nil
	})
}

// parallel calls do(ctx, i) for i in [0, n) from workers goroutines and returns the
// first error, after which the rest are cancelled.
func parallel(ctx context.Context, n, workers int, do func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next    atomic.Int64
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
	)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := do(ctx, i); err != nil {
					errOnce.Do(func() { first = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}
