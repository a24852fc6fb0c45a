package multicluster

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// serviceKey names an imported service.
type serviceKey struct {
	namespace string
	name      string
}

// index is what queries read: the records of every imported service, the namespaces
// that have one, and the zone's SOA serial. Writers build a service's records without
// any lock and then swap one pointer under the write lock, so readers see a service's
// old or new records, never a mix, and wait at most for a map assignment.
type index struct {
	mu       sync.RWMutex
	services map[serviceKey]*records
	// namespaces counts the ServiceImports per namespace: "<ns>.svc.<zone>" exists
	// while it is above zero (spec section 3).
	namespaces map[string]int
	totals     stats
	serial     *zoneSerial
	// moved is signalled, without blocking, whenever answers change; the NOTIFY
	// sender waits on it (notify.go).
	moved chan struct{}
	// rev maps an address to the names PTR answers with, when reverse zones are
	// served (ptr.go); nil otherwise.
	rev map[netip.Addr][]ptrOwner
	// revENT counts, per prefix, the addresses of rev below it: the reverse names of
	// those prefixes exist without data (ptrents.go).
	revENT map[netip.Prefix]int32
}

func newIndex() *index {
	return &index{services: map[serviceKey]*records{}, namespaces: map[string]int{},
		serial: newZoneSerial(time.Now), moved: make(chan struct{}, 1)}
}

// lookup returns the records of the service, or nil.
func (x *index) lookup(namespace, name string) *records {
	x.mu.RLock()
	r := x.services[serviceKey{namespace, name}]
	x.mu.RUnlock()
	return r
}

// hasNamespace reports whether any ServiceImport lives in namespace.
func (x *index) hasNamespace(namespace string) bool {
	x.mu.RLock()
	n := x.namespaces[namespace]
	x.mu.RUnlock()
	return n > 0
}

// publish replaces the records of a service (nil removes it) and reports whether any
// answer changed, in which case the serial moves (spec R10), and the new totals.
func (x *index) publish(k serviceKey, r *records) (bool, stats) {
	x.mu.Lock()
	old := x.services[k]
	switch {
	case r == nil && old == nil:
		t := x.totals
		x.mu.Unlock()
		return false, t
	case r == nil:
		delete(x.services, k)
		x.namespaces[k.namespace]--
		if x.namespaces[k.namespace] <= 0 {
			delete(x.namespaces, k.namespace)
		}
	case old == nil:
		x.services[k] = r
		x.namespaces[k.namespace]++
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
	x.serial.change()
	x.signalMoved()
	return true, t
}

// snapshot returns every service in a stable order, for zone transfers.
func (x *index) snapshot() ([]serviceKey, []*records) {
	x.mu.RLock()
	keys := make([]serviceKey, 0, len(x.services))
	for k := range x.services {
		keys = append(keys, k)
	}
	x.mu.RUnlock()
	slices.SortFunc(keys, func(a, b serviceKey) int {
		if c := strings.Compare(a.namespace, b.namespace); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	recs := make([]*records, 0, len(keys))
	kept := keys[:0]
	for _, k := range keys {
		if r := x.lookup(k.namespace, k.name); r != nil {
			kept = append(kept, k)
			recs = append(recs, r)
		}
	}
	return kept, recs
}

// stats are the totals behind the gauges, kept up to date by publish so that
// reading them costs nothing per service.
type stats struct {
	clusterSetIP, headless, endpoints int
}

func (s *stats) add(r *records, sign int) {
	if r == nil {
		return
	}
	if r.headless {
		s.headless += sign
	} else {
		s.clusterSetIP += sign
	}
	s.endpoints += sign * r.endpoints
}
