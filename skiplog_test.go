package multicluster

import (
	"testing"

	"github.com/mcs-dns/multicluster/internal/object"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestSkipsAreLoggedOncePerObjectAndReason: an object that keeps a bad value through
// changes and rebuilds is logged and counted once; a new bad value, or the same one on
// another object or after a fix, counts again.
func TestSkipsAreLoggedOncePerObjectAndReason(t *testing.T) {
	l := newSkipLog()
	count := func() float64 { return testutil.ToFloat64(skipped.WithLabelValues(object.ReasonBadIP)) }
	base := count()
	steps := []struct {
		what string
		run  func()
		want float64
	}{
		{"first report", func() {
			l.report("EndpointSlice", "shop", "a", []object.Skip{{Reason: object.ReasonBadIP, Value: "300.1.1.1"}})
		}, 1},
		{"same value again, twice in one object", func() {
			l.report("EndpointSlice", "shop", "a", []object.Skip{{Reason: object.ReasonBadIP, Value: "300.1.1.1"}, {Reason: object.ReasonBadIP, Value: "300.1.1.1"}})
		}, 1},
		{"another object", func() {
			l.report("EndpointSlice", "shop", "b", []object.Skip{{Reason: object.ReasonBadIP, Value: "300.1.1.1"}})
		}, 2},
		{"a second bad value", func() {
			l.report("EndpointSlice", "shop", "a", []object.Skip{{Reason: object.ReasonBadIP, Value: "300.1.1.1"}, {Reason: object.ReasonBadIP, Value: "1.2.3"}})
		}, 3},
		{"fixed", func() { l.report("EndpointSlice", "shop", "a", nil) }, 3},
		{"broken again", func() {
			l.report("EndpointSlice", "shop", "a", []object.Skip{{Reason: object.ReasonBadIP, Value: "1.2.3"}})
		}, 4},
		{"deleted and recreated", func() {
			l.forget("EndpointSlice", "shop", "b")
			l.report("EndpointSlice", "shop", "b", []object.Skip{{Reason: object.ReasonBadIP, Value: "300.1.1.1"}})
		}, 5},
	}
	for _, st := range steps {
		st.run()
		if got := count() - base; got != st.want {
			t.Errorf("%s: counted %v, want %v", st.what, got, st.want)
		}
	}
}
