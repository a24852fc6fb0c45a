package zone

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/mcs-dns/multicluster/internal/object"
)

// TestSerialNeverGoesBackAcrossRestart: a server that served serial S, restarted (or
// reloaded) with the same or newer data, must serve a serial after S (RFC 1982), or a
// secondary holding S keeps its copy forever. Counting one per change from the start
// time ran ahead of the clock by the number of changes (thousands after an initial
// list) and dropped back on restart.
func TestSerialNeverGoesBackAcrossRestart(t *testing.T) {
	clock := time.Unix(1_800_000_000, 0)
	now := func() time.Time { return clock }
	publishAll := func(x *Index, n int, ip string) {
		for i := range n {
			si := clusterSetIP("shop", fmt.Sprintf("web%d", i), netip.MustParseAddr(ip))
			x.Publish(object.ServiceKey{Namespace: "shop", Name: si.Name}, Build(si, nil, 20, func(string, string) {}))
		}
	}

	first := NewIndex(now)
	publishAll(first, 1000, "10.0.0.1") // the initial list
	clock = clock.Add(time.Second)
	served := []uint32{first.Serial().Observe()}
	for range 3 { // churn, observed by a secondary after each burst
		clock = clock.Add(time.Second)
		publishAll(first, 500, fmt.Sprintf("10.0.0.%d", len(served)+1))
		served = append(served, first.Serial().Observe())
	}
	for i := 1; i < len(served); i++ {
		if int32(served[i]-served[i-1]) <= 0 {
			t.Fatalf("serial %d after %d: did not move forward", served[i], served[i-1])
		}
	}
	last := served[len(served)-1]
	if ahead := int64(last) - clock.Unix(); ahead > 0 {
		t.Errorf("serial %d runs %d s ahead of the clock after %d changes", last, ahead, first.Serial().Changes())
	}

	// A restart within the same second, with the same objects: never below the last
	// serial served; a second later, above it.
	second := NewIndex(now)
	publishAll(second, 1000, fmt.Sprintf("10.0.0.%d", len(served)))
	if s := second.Serial().Observe(); int32(s-last) < 0 {
		t.Errorf("serial after restart %d, below the last one served before it (%d)", s, last)
	}
	clock = clock.Add(time.Second)
	if s := second.Serial().Observe(); int32(s-last) <= 0 {
		t.Errorf("serial a second after restart %d, not after the last one served before it (%d)", s, last)
	}
	// Observations without changes keep the serial.
	if a, b := second.Serial().Observe(), second.Serial().Observe(); a != b {
		t.Errorf("serial moved without a change: %d -> %d", a, b)
	}
}

// TestNegativeAnswersDoNotAdvanceSerial: a negative answer's SOA bounds its caching; it
// does not version data, so NXDOMAIN floods during churn must not push the serial ahead
// of the clock.
func TestNegativeAnswersDoNotAdvanceSerial(t *testing.T) {
	clock := time.Unix(1_800_000_000, 0)
	s := NewSerial(func() time.Time { return clock })
	start := s.Peek()
	for range 100 {
		s.Change()
		s.Peek()
	}
	if s.Peek() != start {
		t.Errorf("peek advanced the serial")
	}
	// Within the second the serial names, the change stays pending; the next second
	// the serial moves, once.
	if got := s.Observe(); got != start || !s.Pending() {
		t.Errorf("observation in the same second: %d (pending %v), want %d and pending", got, s.Pending(), start)
	}
	clock = clock.Add(time.Second)
	if got := s.Observe(); got != start+1 || s.Pending() {
		t.Errorf("observation a second later: %d (pending %v), want %d", got, s.Pending(), start+1)
	}
	if got := s.Observe(); got != start+1 {
		t.Errorf("a second observation moved the serial to %d", got)
	}
}
