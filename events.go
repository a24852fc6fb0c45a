package multicluster

import (
	"reflect"

	"github.com/mcs-dns/multicluster/internal/object"
	"github.com/mcs-dns/multicluster/internal/watch"
)

// What the watches tell the controller (watch.Handler): object changes queue their
// service; the state follows discovery and the API server's outages.

var _ watch.Handler = (*controller)(nil)

// ImportChanged queues the service of a ServiceImport that was added, changed or
// deleted.
func (c *controller) ImportChanged(old, si *object.ServiceImport, deleted bool) {
	if old != nil && sameImport(old, si) {
		return // a relist, or a change to fields no answer depends on
	}
	if deleted {
		c.skips.forget("ServiceImport", si.Namespace, si.Name)
	} else {
		c.skips.report("ServiceImport", si.Namespace, si.Name, si.Bad)
	}
	c.enqueue(object.ServiceKey{Namespace: si.Namespace, Name: si.Name})
}

// SliceChanged queues the service of an EndpointSlice that was added, changed or
// deleted (and its former service when its label changed).
func (c *controller) SliceChanged(old, s *object.EndpointSlice, deleted bool) {
	if old != nil {
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

// Blocked: the watches cannot start yet; they retry.
func (c *controller) Blocked(b watch.Blocker) {
	switch b {
	case watch.CRDMissing:
		c.setState(stateCRDMissing)
	case watch.Forbidden:
		c.setState(stateForbidden)
	default:
		c.setState(stateUnreachable)
	}
}

// APIFailed: a failure after the first sync turns the state to stale (answers keep
// coming from the last known state).
func (c *controller) APIFailed() {
	if watchState(c.state.Load()) == stateSynced {
		c.setState(stateStale)
	}
}

// APIRecovered: the first success after an outage turns the state back to synced.
func (c *controller) APIRecovered() {
	if watchState(c.state.Load()) == stateStale {
		c.setState(stateSynced)
	}
}
