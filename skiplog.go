package multicluster

import (
	"sync"

	"github.com/mcs-dns/multicluster/internal/object"
)

// skipLog logs and counts each malformed value once per object: an object that
// changes, or a service that is rebuilt, while it still carries the same bad value
// stays quiet. The set an object last reported replaces the previous one, so a value
// that is fixed and later broken again is logged again.
type skipLog struct {
	mu   sync.Mutex
	seen map[string]map[object.Skip]struct{} // "kind ns/name" -> the skips last reported
}

func newSkipLog() *skipLog { return &skipLog{seen: map[string]map[object.Skip]struct{}{}} }

// report logs and counts the skips of an object that were not reported for it before.
func (l *skipLog) report(kind, ns, name string, bad []object.Skip) {
	key := kind + " " + ns + "/" + name
	l.mu.Lock()
	prev := l.seen[key]
	if len(bad) == 0 {
		delete(l.seen, key)
		l.mu.Unlock()
		return
	}
	now := make(map[object.Skip]struct{}, len(bad))
	var fresh []object.Skip
	for _, b := range bad {
		if _, dup := now[b]; dup {
			continue
		}
		now[b] = struct{}{}
		if _, old := prev[b]; !old {
			fresh = append(fresh, b)
		}
	}
	l.seen[key] = now
	l.mu.Unlock()

	for _, b := range fresh {
		skipped.WithLabelValues(b.Reason).Inc()
		switch b.Reason {
		case object.ReasonNoCluster:
			log.Warningf("%s %s/%s has no %s label: its addresses answer the service name only", kind, ns, name, object.LabelSourceCluster)
		default:
			log.Warningf("%s %s/%s: skipping %q: %s", kind, ns, name, b.Value, b.Reason)
		}
	}
}

// forget drops what was reported for a deleted object.
func (l *skipLog) forget(kind, ns, name string) {
	l.mu.Lock()
	delete(l.seen, kind+" "+ns+"/"+name)
	l.mu.Unlock()
}
