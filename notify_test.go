package multicluster

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/transfer"
	"github.com/mcs-dns/multicluster/internal/object"
	"github.com/mcs-dns/multicluster/internal/zone"
)

// countingNotifier runs a notifier on m's index that records the zones it notifies.
func countingNotifier(t *testing.T, m *MultiCluster, ready *atomic.Bool, fail error) (*notifier, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var sent []string
	n := &notifier{
		zones: m.Zones,
		moved: m.index.Moved(),
		send: func(z string) notifyResult {
			mu.Lock()
			sent = append(sent, z)
			mu.Unlock()
			if fail != nil {
				return notifyResult{failed: []error{fail}}
			}
			return notifyResult{acked: 1}
		},
		ready: ready.Load,
		delay: 20 * time.Millisecond,
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go n.run()
	t.Cleanup(func() {
		close(n.stop)
		<-n.done
	})
	return n, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), sent...)
	}
}

func publishIP(m *MultiCluster, i int) {
	si, _ := object.TransformImport(clusterSetIP("shop", "web", []string{fmt.Sprintf("10.0.%d.%d", i/256, i%256)}, families(v4)))
	m.index.Publish(object.ServiceKey{Namespace: "shop", Name: "web"}, zone.Build(si.(*object.ServiceImport), nil, 20, func(string, string) {}))
}

func TestNotifyCoalesces(t *testing.T) {
	m := syncedPlugin("clusterset.local.", "example.local.")
	var ready atomic.Bool
	ready.Store(true)
	_, sent := countingNotifier(t, m, &ready, nil)
	before := counterValue(t, notifies.WithLabelValues("sent"))

	// A burst of 500 changes: one NOTIFY per zone, maybe two if the burst straddles
	// the coalescing interval, never one per change.
	for i := range 500 {
		publishIP(m, i)
	}
	eventually(t, "a NOTIFY for both zones", func() bool { return len(sent()) >= 2 })
	time.Sleep(100 * time.Millisecond)
	if n := len(sent()); n > 4 {
		t.Errorf("%d NOTIFYs for a burst of 500 changes, want at most 2 per zone", n)
	}
	if got := sent(); got[0] != "clusterset.local." || got[1] != "example.local." {
		t.Errorf("notified %v, want both zones", got)
	}

	// A later change is notified too; a rebuild that changes nothing is not.
	n := len(sent())
	publishIP(m, 1000)
	eventually(t, "a NOTIFY for the next change", func() bool { return len(sent()) == n+2 })
	publishIP(m, 1000)
	time.Sleep(100 * time.Millisecond)
	if len(sent()) != n+2 {
		t.Errorf("a rebuild with the same answers sent NOTIFY")
	}
	if d := counterValue(t, notifies.WithLabelValues("sent")) - before; d != float64(len(sent())) {
		t.Errorf("notifies_total{result=sent} moved by %v, want %d", d, len(sent()))
	}
}

// Until the watches synced a secondary would be refused the transfer: NOTIFY waits.
func TestNotifyWaitsForSync(t *testing.T) {
	m := syncedPlugin()
	var ready atomic.Bool
	_, sent := countingNotifier(t, m, &ready, nil)
	publishIP(m, 1)
	time.Sleep(100 * time.Millisecond)
	if len(sent()) != 0 {
		t.Fatalf("NOTIFY sent before the watches synced")
	}
	ready.Store(true)
	eventually(t, "the NOTIFY once synced", func() bool { return len(sent()) == 1 })
}

func TestNotifyFailuresCounted(t *testing.T) {
	m := syncedPlugin()
	var ready atomic.Bool
	ready.Store(true)
	before := counterValue(t, notifies.WithLabelValues("failed"))
	_, sent := countingNotifier(t, m, &ready, errors.New("refused"))
	publishIP(m, 1)
	eventually(t, "the failed NOTIFY", func() bool { return len(sent()) == 1 })
	eventually(t, "the failure counted", func() bool { return counterValue(t, notifies.WithLabelValues("failed")) == before+1 })
}

// Without a transfer plugin in the server block there is nothing to notify.
func TestNotifierNeedsTransfer(t *testing.T) {
	m := syncedPlugin()
	m.startNotifier(nil)
	if m.notifier != nil {
		t.Fatal("notifier started without a transfer plugin")
	}
	m.startNotifier(&transfer.Transfer{})
	if m.notifier == nil {
		t.Fatal("notifier not started with a transfer plugin")
	}
	m.stopNotifier()
	if m.notifier != nil {
		t.Fatal("notifier not stopped")
	}
}

// TestNotifyWaitsForTheSerialToMove: a change within the second the serial already
// names is notified only once the serial has moved past it; otherwise the secondary's
// SOA query finds the serial it holds and transfers nothing.
func TestNotifyWaitsForTheSerialToMove(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().Unix()) // versioned sleeps until the next real second
	s := zone.NewSerial(func() time.Time { return time.Unix(now.Load(), 0) })
	s.Change()
	now.Add(1)
	first := s.Observe()
	s.Change() // the same second as first
	n := &notifier{serial: s, stop: make(chan struct{})}
	done := make(chan bool)
	go func() { done <- n.versioned() }()
	select {
	case <-done:
		t.Fatal("versioned returned while the change was not in the serial")
	case <-time.After(50 * time.Millisecond):
	}
	now.Add(1)
	select {
	case ok := <-done:
		if !ok || s.Peek() != first+1 || s.Pending() {
			t.Errorf("versioned %v, serial %d (pending %v), want true and %d", ok, s.Peek(), s.Pending(), first+1)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("versioned did not return once the second passed")
	}
}
