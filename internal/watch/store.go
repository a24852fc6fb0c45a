package watch

import (
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/mcs-dns/multicluster/internal/object"
)

// objectStore is where a client-go reflector keeps one resource's trimmed objects,
// instead of a shared informer's store and queue. The reflector calls it directly,
// and it tells the Handler of each change as it makes it.
//
// The difference is the relist. An informer replaces its whole store on every relist
// (an API server restart): it rebuilds its indices, queues every object as a delta
// and notifies its handlers of each, even when nothing changed. At 100,000
// ServiceImports and 200,000 EndpointSlices that was 190 MB of garbage, most of a
// relist's memory peak. Here a relisted object that is the stored one (reusing and
// the watch decoders hand the stored copy on for an unchanged version) costs a map
// lookup, and only the objects that changed, came or went reach the Handler.
type objectStore struct {
	// trim turns an API object into its trimmed form (and passes trimmed ones on);
	// the reflector also applies it to a streamed list as the list arrives.
	trim cache.TransformFunc
	// changed is called, with the store locked, for every object added, changed
	// (old is the previous version) or deleted; it must not read the store.
	changed func(old, obj any, deleted bool)
	// service, when set, indexes objects by the service they belong to.
	service func(obj any) (object.ServiceKey, bool)

	mu        sync.RWMutex
	items     map[objectKey]any
	byService map[object.ServiceKey][]any

	synced atomic.Bool   // the first list is in and every change of it was told
	listed chan struct{} // closed when synced turns true
}

type objectKey struct{ namespace, name string }

var _ cache.TransformingStore = (*objectStore)(nil)

func newObjectStore(trim cache.TransformFunc, changed func(old, obj any, deleted bool), service func(any) (object.ServiceKey, bool)) *objectStore {
	s := &objectStore{changed: changed, service: service, items: map[objectKey]any{}, listed: make(chan struct{})}
	if service != nil {
		s.byService = map[object.ServiceKey][]any{}
	}
	s.trim = reusing(s.stored, trim)
	return s
}

// Transformer makes the reflector trim a streamed list's objects as they arrive, so
// its temporary store never holds whole API objects.
func (s *objectStore) Transformer() cache.TransformFunc { return s.trim }

func keyOf(obj any) (objectKey, bool) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return objectKey{}, false
	}
	return objectKey{m.GetNamespace(), m.GetName()}, true
}

func (s *objectStore) Add(obj any) error { return s.Update(obj) }

func (s *objectStore) Update(obj any) error {
	o, err := s.trim(obj)
	if err != nil {
		return err
	}
	k, ok := keyOf(o)
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(k, o)
	return nil
}

// tombstoneObj returns the object a deletion tombstone stands for, or obj.
func tombstoneObj(obj any) any {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return t.Obj
	}
	return obj
}

func (s *objectStore) Delete(obj any) error {
	k, ok := keyOf(tombstoneObj(obj))
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remove(k)
	return nil
}

// Replace makes the store hold exactly list, the result of a (re)list. Objects that
// are already stored (the same pointer) cost nothing; only the changes are told.
func (s *objectStore) Replace(list []any, _ string) error {
	trimmed := make([]any, 0, len(list))
	for _, obj := range list {
		o, err := s.trim(obj)
		if err != nil {
			return err
		}
		trimmed = append(trimmed, o)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	before, kept := len(s.items), 0
	for _, o := range trimmed {
		k, ok := keyOf(o)
		if !ok {
			continue
		}
		if _, had := s.items[k]; had {
			kept++
		}
		s.put(k, o)
	}
	if kept < before {
		// Some stored objects are gone: find them (rare: deletions missed while
		// the watch was down).
		listed := make(map[objectKey]struct{}, len(trimmed))
		for _, o := range trimmed {
			if k, ok := keyOf(o); ok {
				listed[k] = struct{}{}
			}
		}
		for k := range s.items {
			if _, ok := listed[k]; !ok {
				s.remove(k)
			}
		}
	}
	if !s.synced.Swap(true) {
		close(s.listed)
	}
	return nil
}

func (s *objectStore) Resync() error { return nil }

// put stores o under k and tells the change; s.mu is held.
func (s *objectStore) put(k objectKey, o any) {
	old, had := s.items[k]
	if had && old == o {
		return // the stored copy, relisted
	}
	s.items[k] = o
	if s.service != nil {
		if had {
			s.unindex(old)
		}
		if svc, ok := s.service(o); ok {
			s.byService[svc] = append(s.byService[svc], o)
		}
	}
	s.changed(old, o, false)
}

// remove deletes k and tells it; s.mu is held.
func (s *objectStore) remove(k objectKey) {
	old, had := s.items[k]
	if !had {
		return
	}
	delete(s.items, k)
	if s.service != nil {
		s.unindex(old)
	}
	s.changed(nil, old, true)
}

func (s *objectStore) unindex(o any) {
	svc, ok := s.service(o)
	if !ok {
		return
	}
	objs := s.byService[svc]
	for i, x := range objs {
		if x == o {
			last := len(objs) - 1
			objs[i], objs[last] = objs[last], nil
			objs = objs[:last]
			break
		}
	}
	if len(objs) == 0 {
		delete(s.byService, svc)
	} else {
		s.byService[svc] = objs
	}
}

// get returns the object stored for namespace/name.
func (s *objectStore) get(namespace, name string) (any, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, ok := s.items[objectKey{namespace, name}]
	return o, ok
}

// stored returns the object stored for namespace/name if it has resource version rv
// (never for an empty rv): equal versions are equal objects (API conventions).
func (s *objectStore) stored(namespace, name, rv string) any {
	if rv == "" {
		return nil
	}
	o, ok := s.get(namespace, name)
	if !ok {
		return nil
	}
	if m, ok := o.(metav1.Object); ok && m.GetResourceVersion() == rv {
		return o
	}
	return nil
}

// ofService calls fn for each object indexed under svc.
func (s *objectStore) ofService(svc object.ServiceKey, fn func(any)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, o := range s.byService[svc] {
		fn(o)
	}
}

// keys returns the keys of every stored object.
func (s *objectStore) keys() []objectKey {
	s.mu.RLock()
	defer s.mu.RUnlock()
	keys := make([]objectKey, 0, len(s.items))
	for k := range s.items {
		keys = append(keys, k)
	}
	return keys
}

func (s *objectStore) len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.items)
}

func (s *objectStore) hasSynced() bool { return s.synced.Load() }
