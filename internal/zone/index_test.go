package zone

import (
	"testing"
	"time"

	"github.com/mcs-dns/multicluster/internal/object"
)

// TestPublish: every change of answers, and only such a change, moves the serial and
// signals Moved; namespaces exist while a service lives in them; the totals follow.
func TestPublish(t *testing.T) {
	x := NewIndex(time.Now)
	web := object.ServiceKey{Namespace: "shop", Name: "web"}
	db := object.ServiceKey{Namespace: "shop", Name: "db"}
	build := func(si *object.ServiceImport, eps ...*object.EndpointSlice) *Records {
		return Build(si, eps, zoneLen, noSkips)
	}
	hl := headless("shop", "db", object.FamilyV4)
	for _, step := range []struct {
		what    string
		k       object.ServiceKey
		r       *Records
		changed bool
		stats   Stats
		shop    bool // the namespace exists
	}{
		{"add", web, build(clusterSetIP("shop", "web", addr("10.42.0.1"))), true, Stats{ClusterSetIP: 1}, true},
		{"the same answers rebuilt", web, build(clusterSetIP("shop", "web", addr("10.42.0.1"))), false, Stats{ClusterSetIP: 1}, true},
		{"a new VIP", web, build(clusterSetIP("shop", "web", addr("10.42.0.2"))), true, Stats{ClusterSetIP: 1}, true},
		{"a headless service", db, build(hl, endpoints("shop", "db-east", "db", "east", object.FamilyV4, ep("db-0", "10.1.0.10"), ep("", "10.1.0.11"))),
			true, Stats{ClusterSetIP: 1, Headless: 1, Endpoints: 2}, true},
		{"delete one", web, nil, true, Stats{Headless: 1, Endpoints: 2}, true},
		{"delete it again", web, nil, false, Stats{Headless: 1, Endpoints: 2}, true},
		{"delete the last", db, nil, true, Stats{}, false},
	} {
		before := x.Serial().Changes()
		changed, stats := x.Publish(step.k, step.r)
		moved := false
		select {
		case <-x.Moved():
			moved = true
		default:
		}
		if changed != step.changed || moved != step.changed || (x.Serial().Changes() != before) != step.changed {
			t.Errorf("%s: changed %v, moved %v, serial changes %d -> %d; want a change %v",
				step.what, changed, moved, before, x.Serial().Changes(), step.changed)
		}
		if stats != step.stats {
			t.Errorf("%s: totals %+v, want %+v", step.what, stats, step.stats)
		}
		if got := x.HasNamespace("shop"); got != step.shop {
			t.Errorf("%s: namespace shop exists %v, want %v", step.what, got, step.shop)
		}
		if got := x.Lookup(step.k.Namespace, step.k.Name); got != step.r {
			t.Errorf("%s: lookup returned other records", step.what)
		}
	}
}

// TestSnapshotIsSorted: zone transfers read every service by namespace, then name.
func TestSnapshotIsSorted(t *testing.T) {
	x := NewIndex(time.Now)
	for _, k := range []object.ServiceKey{{Namespace: "shop", Name: "web"}, {Namespace: "legacy", Name: "old"}, {Namespace: "shop", Name: "db"}} {
		x.Publish(k, Build(clusterSetIP(k.Namespace, k.Name, addr("10.42.0.1")), nil, zoneLen, noSkips))
	}
	keys, recs := x.Snapshot()
	want := []object.ServiceKey{{Namespace: "legacy", Name: "old"}, {Namespace: "shop", Name: "db"}, {Namespace: "shop", Name: "web"}}
	if len(keys) != len(want) || len(recs) != len(want) {
		t.Fatalf("snapshot of %d keys and %d records, want %d", len(keys), len(recs), len(want))
	}
	for i, k := range want {
		if keys[i] != k || recs[i] != x.Lookup(k.Namespace, k.Name) {
			t.Errorf("snapshot %d: %v, want %v with its records", i, keys[i], k)
		}
	}
}
