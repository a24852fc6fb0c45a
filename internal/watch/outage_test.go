package watch

import (
	"errors"
	"slices"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestOutageIsToldOnce: every failed list or watch call is told; the recovery only
// once no resource fails any more (another resource failing and recovering does not
// end the outage of the first); an expired resource version is a normal relist, not an
// outage. Each problem is logged once, and its end once.
func TestOutageIsToldOnce(t *testing.T) {
	rec, logs := &recorder{}, &testLog{}
	w := New(Config{Log: logs}, rec)
	for _, step := range []struct {
		what     string
		resource string
		err      error
		want     []string
	}{
		{"slices fail", resourceSlices, errors.New("dial tcp 127.0.0.1:6443: connect: connection refused"), []string{"failed"}},
		{"imports fail", resourceImports, apierrors.NewForbidden(schema.GroupResource{Group: mcsGroup, Resource: resourceImports}, "", nil), []string{"failed"}},
		{"imports recover", resourceImports, nil, nil},
		{"slices recover", resourceSlices, nil, []string{"recovered"}},
		{"slices expire", resourceSlices, apierrors.NewResourceExpired("too old"), nil},
		{"slices fine", resourceSlices, nil, nil},
	} {
		if got := w.apiResult(step.resource, step.err); !errors.Is(got, step.err) {
			t.Errorf("%s: returned %v, want %v", step.what, got, step.err)
		}
		if got := rec.told(); !slices.Equal(got, step.want) {
			t.Errorf("%s: told %v, want %v", step.what, got, step.want)
		}
	}
	for s, want := range map[string]int{
		"cannot list or watch endpointslices": 1, "listing or watching serviceimports is forbidden": 1,
		"Recovered: endpointslices": 1, "Recovered: serviceimports": 1, "too old": 0,
	} {
		if n := logs.count(s); n != want {
			t.Errorf("%q logged %d times, want %d", s, n, want)
		}
	}
}
