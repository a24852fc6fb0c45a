// Package watch keeps the trimmed ServiceImports and EndpointSlices of one cluster: it
// finds the served ServiceImport version, checks access, runs the reflectors (with the
// decoders that hand relisted objects on as the stored copies) and the ClusterProperty
// watch, and tells its user of every change through Handler. It knows the Kubernetes
// and MCS APIs and the trimmed objects of package object; it knows nothing of DNS.
package watch

import (
	"context"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	mcsclient "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned"

	"github.com/mcs-dns/multicluster/internal/object"
)

// Handler is told what the watches see. Its methods are called from the watches'
// goroutines.
type Handler interface {
	// ImportChanged and SliceChanged are called for every object added, changed (old
	// is the version it replaces, nil for an addition) or deleted, with its store
	// locked: they must not read the stores.
	ImportChanged(old, obj *object.ServiceImport, deleted bool)
	SliceChanged(old, obj *object.EndpointSlice, deleted bool)
	// Blocked is called each time finding the served version or checking access fails,
	// before the problem is logged; Discover retries.
	Blocked(Blocker)
	// APIFailed is called for every list or watch call that fails once the reflectors
	// run; APIRecovered when the last resource that failed succeeds again.
	APIFailed()
	APIRecovered()
}

// Blocker is why the watches cannot start.
type Blocker int

const (
	// CRDMissing: the API server serves no ServiceImport version.
	CRDMissing Blocker = iota + 1
	// Forbidden: RBAC forbids listing or watching ServiceImports or EndpointSlices.
	Forbidden
	// Unreachable: the API server cannot be asked.
	Unreachable
)

func (b Blocker) String() string {
	switch b {
	case CRDMissing:
		return "crd_missing"
	case Forbidden:
		return "forbidden"
	}
	return "unreachable"
}

// Logger is where the watches log; CoreDNS's plugin logger is one.
type Logger interface {
	Infof(format string, args ...any)
	Warningf(format string, args ...any)
	Errorf(format string, args ...any)
}

// Config is what the watches run on.
type Config struct {
	Kube kubernetes.Interface
	MCS  mcsclient.Interface
	// REST, when set, builds the REST clients the watches use (slicewatch.go,
	// importwatch.go); unit tests with fake clientsets leave it nil and watch through
	// the clientsets.
	REST *rest.Config
	// Imports is how ServiceImports are read (internal/object/compat.go).
	Imports object.ImportOptions
	// RetryMax bounds the backoff of Discover.
	RetryMax time.Duration
	Log      Logger
}

// Watches are the ServiceImport and EndpointSlice watches of one plugin instance and
// the stores they fill.
type Watches struct {
	cfg     Config
	h       Handler
	log     Logger
	version string

	imports *objectStore
	slices  *objectStore

	problems problemLog

	mu      sync.Mutex
	failing map[string]bool // resources whose last list or watch call failed
}

// New returns the watches of cfg, which tell h. They start with Discover and Run.
func New(cfg Config, h Handler) *Watches {
	w := &Watches{cfg: cfg, h: h, log: cfg.Log, failing: map[string]bool{}}
	w.problems.log = cfg.Log
	w.imports = newObjectStore(cfg.Imports.Transform, func(old, obj any, deleted bool) {
		if si, ok := obj.(*object.ServiceImport); ok {
			prev, _ := old.(*object.ServiceImport)
			h.ImportChanged(prev, si, deleted)
		}
	}, nil)
	w.slices = newObjectStore(object.TransformSlice, func(old, obj any, deleted bool) {
		if s, ok := obj.(*object.EndpointSlice); ok {
			prev, _ := old.(*object.EndpointSlice)
			h.SliceChanged(prev, s, deleted)
		}
	}, sliceService)
	return w
}

// Run runs the reflectors until ctx ends and they return. Discover first.
func (w *Watches) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, r := range w.newReflectors() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.reflect(ctx, r)
		}()
	}
	wg.Wait()
}

// WaitListed waits until both stores have told every object of their first list; it
// returns false when ctx ends first.
func (w *Watches) WaitListed(ctx context.Context) bool {
	for _, s := range []*objectStore{w.imports, w.slices} {
		select {
		case <-s.listed:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// Version is the ServiceImport version watched, once Discover returned.
func (w *Watches) Version() string { return w.version }

// Import returns the stored ServiceImport of service k, or nil.
func (w *Watches) Import(k object.ServiceKey) *object.ServiceImport {
	obj, _ := w.imports.get(k.Namespace, k.Name)
	si, _ := obj.(*object.ServiceImport)
	return si
}

// AppendSlices appends the stored EndpointSlices of service k to eps.
func (w *Watches) AppendSlices(eps []*object.EndpointSlice, k object.ServiceKey) []*object.EndpointSlice {
	w.slices.ofService(k, func(o any) {
		if s, ok := o.(*object.EndpointSlice); ok {
			eps = append(eps, s)
		}
	})
	return eps
}

// Services returns the key of every stored ServiceImport.
func (w *Watches) Services() []object.ServiceKey {
	keys := w.imports.keys()
	services := make([]object.ServiceKey, len(keys))
	for i, k := range keys {
		services[i] = object.ServiceKey{Namespace: k.namespace, Name: k.name}
	}
	return services
}

// Len returns how many ServiceImports and EndpointSlices are stored.
func (w *Watches) Len() (imports, slices int) { return w.imports.len(), w.slices.len() }
