// Package zone holds what queries and zone transfers read: the records of each
// imported service (with the local subset and the reverse entries), the index that
// publishes them, the SOA serial, and the records answers are made of. It builds
// them from the trimmed objects of package object and knows nothing of client-go.
package zone

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mcs-dns/multicluster/internal/object"
)

// Index is what queries read: the records of every imported service, the namespaces
// that have one, and the zone's SOA serial. Writers build a service's records without
// any lock and then swap one pointer under the write lock, so readers see a service's
// old or new records, never a mix, and wait at most for a map assignment.
type Index struct {
	mu       sync.RWMutex
	services map[object.ServiceKey]*Records
	// namespaces counts the ServiceImports per namespace: "<ns>.svc.<zone>" exists
	// while it is above zero (spec section 3).
	namespaces map[string]int
	totals     Stats
	serial     *Serial
	// moved is signalled, without blocking, whenever answers change.
	moved chan struct{}
	// rev maps an address to the names PTR answers with, when reverse zones are
	// served (EnablePTR); nil otherwise.
	rev map[netip.Addr][]PTROwner
	// revENT counts, per prefix, the addresses of rev below it: the reverse names of
	// those prefixes exist without data (ptrents.go).
	revENT map[netip.Prefix]int32
}

// NewIndex returns an empty index whose serial reads the clock now (time.Now but in
// tests) and starts at its current time.
func NewIndex(now func() time.Time) *Index {
	return &Index{services: map[object.ServiceKey]*Records{}, namespaces: map[string]int{},
		serial: NewSerial(now), moved: make(chan struct{}, 1)}
}

// Serial is the zone's SOA serial.
func (x *Index) Serial() *Serial { return x.serial }

// Moved receives a value, sent without blocking, whenever answers change; the NOTIFY
// sender waits on it.
func (x *Index) Moved() <-chan struct{} { return x.moved }

// Lookup returns the records of the service, or nil.
func (x *Index) Lookup(namespace, name string) *Records {
	x.mu.RLock()
	r := x.services[object.ServiceKey{Namespace: namespace, Name: name}]
	x.mu.RUnlock()
	return r
}

// HasNamespace reports whether any ServiceImport lives in namespace.
func (x *Index) HasNamespace(namespace string) bool {
	x.mu.RLock()
	n := x.namespaces[namespace]
	x.mu.RUnlock()
	return n > 0
}

// Publish replaces the records of a service (nil removes it) and reports whether any
// answer changed, in which case the serial moves (spec R10), and the new totals.
func (x *Index) Publish(k object.ServiceKey, r *Records) (bool, Stats) {
	x.mu.Lock()
	old := x.services[k]
	switch {
	case r == nil && old == nil:
		t := x.totals
		x.mu.Unlock()
		return false, t
	case r == nil:
		delete(x.services, k)
		x.namespaces[k.Namespace]--
		if x.namespaces[k.Namespace] <= 0 {
			delete(x.namespaces, k.Namespace)
		}
	case old == nil:
		x.services[k] = r
		x.namespaces[k.Namespace]++
	default:
		x.services[k] = r
	}
	x.reindexPTR(k, old, r)
	x.totals.add(old, -1)
	x.totals.add(r, 1)
	t := x.totals
	x.mu.Unlock()
	if old != nil && r != nil && old.digest == r.digest {
		return false, t
	}
	x.serial.Change()
	x.signalMoved()
	return true, t
}

// Snapshot returns every service in a stable order, for zone transfers.
func (x *Index) Snapshot() ([]object.ServiceKey, []*Records) {
	x.mu.RLock()
	keys := make([]object.ServiceKey, 0, len(x.services))
	for k := range x.services {
		keys = append(keys, k)
	}
	x.mu.RUnlock()
	slices.SortFunc(keys, func(a, b object.ServiceKey) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	recs := make([]*Records, 0, len(keys))
	kept := keys[:0]
	for _, k := range keys {
		if r := x.Lookup(k.Namespace, k.Name); r != nil {
			kept = append(kept, k)
			recs = append(recs, r)
		}
	}
	return kept, recs
}

// Stats are the totals behind the gauges, kept up to date by publish so that
// reading them costs nothing per service.
type Stats struct {
	ClusterSetIP, Headless, Endpoints int
}

func (s *Stats) add(r *Records, sign int) {
	if r == nil {
		return
	}
	if r.Headless {
		s.Headless += sign
	} else {
		s.ClusterSetIP += sign
	}
	s.Endpoints += sign * r.Endpoints
}

// signalMoved records that the serial moved; it never blocks.
func (x *Index) signalMoved() {
	select {
	case x.moved <- struct{}{}:
	default:
	}
}
