package multicluster

import (
	"slices"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/transfer"
	"github.com/mcs-dns/multicluster/internal/zone"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// NOTIFY (RFC 1996): when the serial moves, the secondaries the transfer plugin sends
// to ("transfer { to ADDR }") are told, so they transfer the zone within seconds
// instead of at the SOA refresh. One goroutine does it, never the query path nor the
// rebuild: it wakes when the serial moves, waits notifyDelay so that a burst of
// changes (a rollout, a relist) ends in one NOTIFY per zone, then sends once the
// serial covers every change so far. Changes that arrive while it waits are covered by
// that NOTIFY: a secondary reads the current SOA.

// notifyDelay is the coalescing interval: the longest a secondary waits for news.
const notifyDelay = 250 * time.Millisecond

// notifier sends NOTIFY for zones when the index's serial moves.
type notifier struct {
	zones []string
	moved <-chan struct{}
	// send notifies the secondaries of one zone (notifysend.go).
	send func(zone string) notifyResult
	// ready reports whether a transfer would be served: until the watches synced, a
	// secondary would be refused, so NOTIFY waits.
	ready func() bool
	delay time.Duration
	// serial is the zone's serial: a NOTIFY goes out once it versions every change
	// made before it (nil in tests that do not look at serials).
	serial *zone.Serial
	stop   chan struct{}
	done   chan struct{}
}

func (n *notifier) run() {
	defer close(n.done)
	for {
		select {
		case <-n.stop:
			return
		case <-n.moved:
		}
		// Coalesce: wait, then take in whatever moved the serial meanwhile.
		for first := true; first || !n.ready(); first = false {
			select {
			case <-n.stop:
				return
			case <-time.After(n.delay):
			}
		}
		select {
		case <-n.moved:
		default:
		}
		if !n.versioned() {
			return
		}
		for _, z := range n.zones {
			res := n.send(z)
			notifies.WithLabelValues("sent").Add(float64(res.acked))
			for _, err := range res.failed {
				notifies.WithLabelValues("failed").Inc()
				log.Warningf("NOTIFY for %s: %v", z, err)
			}
		}
	}
}

// versioned waits until the serial versions every change made so far, and reports
// false when the notifier stops meanwhile. The serial names the second of a change and
// never runs ahead of the clock (internal/zone/serial.go): a change made within the second the serial
// already names moves it only the next second. Notifying before that, the secondary's
// SOA query would find the serial it holds and transfer nothing.
func (n *notifier) versioned() bool {
	if n.serial == nil {
		return true
	}
	for {
		s := n.serial.Observe()
		if !n.serial.Pending() {
			return true
		}
		next := time.Until(time.Unix(int64(s)+1, 0)) + 10*time.Millisecond
		select {
		case <-n.stop:
			return false
		case <-time.After(max(next, 10*time.Millisecond)):
		}
	}
}

// startNotifier starts sending NOTIFY, for the forward and the reverse zones, to the
// secondaries of the transfer plugin of this server block, h (nil when the block has
// none: nothing to do), from the block's bound address (notifysend.go).
func (m *MultiCluster) startNotifier(h plugin.Handler) {
	t, ok := h.(*transfer.Transfer)
	if !ok || t == nil {
		return
	}
	var send func(string) notifyResult
	if stanzas, err := transferStanzas(t); err == nil {
		send = newNotifySender(stanzas, m.listen).send
	} else {
		log.Warningf("NOTIFY through the transfer plugin, from the address the kernel picks: %v", err)
		send = func(zone string) notifyResult {
			if err := t.Notify(zone); err != nil {
				return notifyResult{failed: []error{err}}
			}
			return notifyResult{acked: 1}
		}
	}
	zones := slices.Clone(m.Zones)
	for _, z := range m.rev {
		zones = append(zones, z.origin)
	}
	m.notifier = &notifier{
		zones:  zones,
		moved:  m.index.Moved(),
		send:   send,
		ready:  m.synced,
		delay:  notifyDelay,
		serial: m.index.Serial(),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go m.notifier.run()
}

// stopNotifier stops the NOTIFY goroutine and waits for it.
func (m *MultiCluster) stopNotifier() {
	if m.notifier == nil {
		return
	}
	close(m.notifier.stop)
	<-m.notifier.done
	m.notifier = nil
}

var notifies = promauto.NewCounterVec(prometheus.CounterOpts{
	Namespace: plugin.Namespace,
	Subsystem: pluginName,
	Name:      "notifies_total",
	Help:      "NOTIFY messages to the transfer plugin's secondaries, one per zone and secondary, by result (sent: acknowledged; failed: not, after three tries).",
}, []string{"result"})
