package zone

import (
	"sync"
	"sync/atomic"
	"time"
)

// Serial is the SOA serial of the zone (spec R10). It must never go backwards,
// across restarts and Corefile reloads too: a secondary that holds a higher serial
// than the primary's treats the primary as older (RFC 1982 serial arithmetic) and
// keeps serving what it has.
//
// The serial is the time of a change in Unix seconds, never ahead of the clock: it
// moves when it is observed (an SOA query, a zone transfer, a NOTIFY) after answers
// changed, to the current second. A change observed within the second the serial
// already names waits for the next second (the observer sees it at most a second
// late; NOTIFY retries). So a restarted or reloaded server, which starts from its
// start time, is at or above every serial served before it (as long as the clock does
// not go back). Counting one per change (start time + changes) runs ahead of the clock
// by the number of changes, thousands after the initial list of a large ClusterSet,
// and drops back on every restart.
type Serial struct {
	mu      sync.Mutex
	current atomic.Uint32
	// changed is set when an answer changed after the current serial was observed.
	changed atomic.Bool
	// changes counts the changes.
	changes atomic.Uint64
	now     func() time.Time
}

// NewSerial returns a serial that starts at the time now returns.
func NewSerial(now func() time.Time) *Serial {
	s := &Serial{now: now}
	s.current.Store(uint32(now().Unix()))
	return s
}

// Change records that some answer changed.
func (s *Serial) Change() {
	s.changes.Add(1)
	s.changed.Store(true)
}

// Changes returns how many changes were recorded.
func (s *Serial) Changes() uint64 { return s.changes.Load() }

// Peek returns the serial without advancing it, for the SOA of negative answers: it
// versions nothing a client keeps.
func (s *Serial) Peek() uint32 { return s.current.Load() }

// Observe returns the serial of the answers as they are now, for SOA queries, zone
// transfers and NOTIFY: a change since the last observation advances it to the
// current second, unless it already names this second (then the change stays pending).
func (s *Serial) Observe() uint32 {
	if !s.changed.Load() {
		return s.current.Load()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.current.Load()
	next := uint32(s.now().Unix())
	// RFC 1982: only a serial after prev in serial arithmetic is an advance.
	if int32(next-prev) > 0 {
		// Clear the flag before publishing the serial: a change after this point
		// sets it again and advances a later observation.
		s.changed.Store(false)
		s.current.Store(next)
	}
	return s.current.Load()
}

// Pending reports whether answers changed since the serial was last advanced.
func (s *Serial) Pending() bool { return s.changed.Load() }
