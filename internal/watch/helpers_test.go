package watch

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcs-dns/multicluster/internal/object"
)

func TestMain(m *testing.M) {
	// mcs-api v0.5.2's fake clientset predates watch-list streaming; client-go's
	// reflector would wait forever for its initial-events bookmark. Real API servers
	// support it, so only the unit tests list-then-watch.
	os.Setenv("KUBE_FEATURE_WatchListClient", "false")
	os.Exit(m.Run())
}

// testLog is a Logger that keeps what is logged; count returns how many lines hold s.
type testLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *testLog) logf(level, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+" "+fmt.Sprintf(format, args...))
}

func (l *testLog) Infof(format string, args ...any)    { l.logf("[INFO]", format, args...) }
func (l *testLog) Warningf(format string, args ...any) { l.logf("[WARNING]", format, args...) }
func (l *testLog) Errorf(format string, args ...any)   { l.logf("[ERROR]", format, args...) }

func (l *testLog) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		n += strings.Count(line, s)
	}
	return n
}

// recorder is a Handler that keeps what it is told, one string per call.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf(format, args...))
}

func (r *recorder) ImportChanged(_, si *object.ServiceImport, deleted bool) {
	r.add("import %s/%s deleted=%v", si.Namespace, si.Name, deleted)
}

func (r *recorder) SliceChanged(_, s *object.EndpointSlice, deleted bool) {
	r.add("slice %s/%s deleted=%v", s.Namespace, s.Name, deleted)
}

func (r *recorder) Blocked(b Blocker) { r.add("blocked %s", b) }
func (r *recorder) APIFailed()        { r.add("failed") }
func (r *recorder) APIRecovered()     { r.add("recovered") }

// told returns what the recorder was told, and forgets it.
func (r *recorder) told() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.events
	r.events = nil
	return e
}

// has reports whether the recorder was told event (and keeps it).
func (r *recorder) has(event string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e == event {
			return true
		}
	}
	return false
}

// waitFor polls cond every 10 ms for up to 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(5 * time.Second)
	for !cond() {
		select {
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// apiSlice is an EndpointSlice in namespace shop of service svc from cluster, one
// ready endpoint per address.
func apiSlice(name, svc, cluster string, addrs ...string) *discovery.EndpointSlice {
	es := &discovery.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, Labels: map[string]string{
			object.LabelServiceName: svc, object.LabelSourceCluster: cluster}},
		AddressType: discovery.AddressTypeIPv4,
	}
	for _, a := range addrs {
		es.Endpoints = append(es.Endpoints, discovery.Endpoint{Addresses: []string{a}})
	}
	return es
}
