package multicluster

import (
	"sync"
	"sync/atomic"
	"time"
)

// zoneSerial is the SOA serial of the zone (spec R10). It must never go backwards,
// across restarts and Corefile reloads too: a secondary that holds a higher serial
// than the primary's treats the primary as older (RFC 1982 serial arithmetic) and
// keeps serving what it has.
//
// The serial is the time of a change, in Unix seconds, and only moves when it is
// observed (an SOA query, a zone transfer, a NOTIFY) after answers changed: it is then
// max(previous+1, now). So it runs ahead of the clock only while changes and
// observations alternate faster than once a second, and a restarted or reloaded
// server, which starts from its start time, comes back above every serial served
// before. Counting one per change instead (start time + changes) runs ahead by the
// number of changes, thousands after the initial list of a large ClusterSet, and
// drops back on every restart.
type zoneSerial struct {
	mu      sync.Mutex
	current atomic.Uint32
	// changed is set when an answer changed after the current serial was observed.
	changed atomic.Bool
	// changes counts the changes, for tests and the logs.
	changes atomic.Uint64
	// moved receives a value when answers change, without blocking: a notifier waits
	// on it.
	moved chan struct{}
	now   func() time.Time
}

func newZoneSerial(now func() time.Time) *zoneSerial {
	s := &zoneSerial{moved: make(chan struct{}, 1), now: now}
	s.current.Store(uint32(now().Unix()))
	return s
}

// change records that some answer changed.
func (s *zoneSerial) change() {
	s.changes.Add(1)
	s.changed.Store(true)
	select {
	case s.moved <- struct{}{}:
	default:
	}
}

// peek returns the serial without advancing it, for the SOA of negative answers: it
// versions nothing a client keeps.
func (s *zoneSerial) peek() uint32 { return s.current.Load() }

// observe returns the serial of the answers as they are now, for SOA queries, zone
// transfers and NOTIFY: a change since the last observation advances it first.
func (s *zoneSerial) observe() uint32 {
	if !s.changed.Load() {
		return s.current.Load()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Clear the flag before reading the time: a change published after this point
	// sets it again and advances the next observation.
	if s.changed.Swap(false) {
		prev := s.current.Load()
		next := uint32(s.now().Unix())
		// RFC 1982: "next" must be after "prev" in serial arithmetic.
		if int32(next-prev) <= 0 {
			next = prev + 1
		}
		s.current.Store(next)
	}
	return s.current.Load()
}
