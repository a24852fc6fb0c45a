package watch

import (
	"fmt"
	"slices"
	"testing"

	discovery "k8s.io/api/discovery/v1"

	"github.com/mcs-dns/multicluster/internal/object"
)

type storeChange struct {
	what string // add, update, delete
	name string
}

// recordingStore is a slice store that records the changes it tells.
func recordingStore() (*objectStore, *[]storeChange) {
	var changes []storeChange
	s := newObjectStore(object.TransformSlice, func(old, obj any, deleted bool) {
		what := "add"
		switch {
		case deleted:
			what = "delete"
		case old != nil:
			what = "update"
		}
		changes = append(changes, storeChange{what, obj.(*object.EndpointSlice).Name})
	}, sliceService)
	return s, &changes
}

func versioned(es *discovery.EndpointSlice, rv string) *discovery.EndpointSlice {
	es.ResourceVersion = rv
	return es
}

// A relist (Replace) tells only what changed: unchanged objects, handed on as the
// stored copies, cost nothing; new, changed and missing ones are told once each.
func TestStoreReplaceTellsOnlyChanges(t *testing.T) {
	s, changes := recordingStore()
	east := versioned(apiSlice("db-east", "db", "east", "10.1.0.10"), "1")
	west := versioned(apiSlice("db-west", "db", "west", "10.2.0.10"), "2")
	web := versioned(apiSlice("web-east", "web", "east", "10.1.0.20"), "3")
	if err := s.Replace([]any{east, west, web}, "3"); err != nil {
		t.Fatal(err)
	}
	if !s.hasSynced() {
		t.Fatal("not synced after the first list")
	}
	want := []storeChange{{"add", "db-east"}, {"add", "db-west"}, {"add", "web-east"}}
	if !slices.Equal(*changes, want) {
		t.Fatalf("first list: %v, want %v", *changes, want)
	}

	// Relist: db-east unchanged (the decoder hands on the stored copy, or the same
	// version comes again), db-west changed, web-east gone, db-north new.
	*changes = nil
	storedEast, _ := s.get("shop", "db-east")
	westAgain := versioned(apiSlice("db-west", "db", "west", "10.2.0.11"), "4")
	north := versioned(apiSlice("db-north", "db", "north", "10.3.0.10"), "5")
	if err := s.Replace([]any{storedEast, westAgain, north}, "5"); err != nil {
		t.Fatal(err)
	}
	want = []storeChange{{"update", "db-west"}, {"add", "db-north"}, {"delete", "web-east"}}
	if !slices.Equal(*changes, want) {
		t.Errorf("relist: %v, want %v", *changes, want)
	}
	*changes = nil
	if err := s.Replace([]any{east.DeepCopy(), westAgain.DeepCopy(), north.DeepCopy()}, "5"); err != nil {
		t.Fatal(err)
	}
	if len(*changes) != 0 {
		t.Errorf("relist of the same versions told %v", *changes)
	}
	if got := serviceSlices(s, "db"); !slices.Equal(got, []string{"db-east", "db-north", "db-west"}) {
		t.Errorf("db's slices: %v", got)
	}
	if got := serviceSlices(s, "web"); len(got) != 0 {
		t.Errorf("web's slices after its slice went: %v", got)
	}
}

// Watch events move a slice between services when its label changes, and deleting
// what the store does not hold tells nothing.
func TestStoreWatchEvents(t *testing.T) {
	s, changes := recordingStore()
	a := versioned(apiSlice("s1", "db", "east", "10.1.0.10"), "1")
	if err := s.Add(a); err != nil {
		t.Fatal(err)
	}
	moved := versioned(apiSlice("s1", "web", "east", "10.1.0.10"), "2")
	if err := s.Update(moved); err != nil {
		t.Fatal(err)
	}
	if got := serviceSlices(s, "db"); len(got) != 0 {
		t.Errorf("db still has %v after the label moved", got)
	}
	if got := serviceSlices(s, "web"); !slices.Equal(got, []string{"s1"}) {
		t.Errorf("web's slices: %v", got)
	}
	if err := s.Delete(versioned(apiSlice("nope", "web", "east"), "3")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(moved); err != nil {
		t.Fatal(err)
	}
	want := []storeChange{{"add", "s1"}, {"update", "s1"}, {"delete", "s1"}}
	if !slices.Equal(*changes, want) {
		t.Errorf("changes %v, want %v", *changes, want)
	}
	if s.len() != 0 || len(serviceSlices(s, "web")) != 0 {
		t.Errorf("store not empty: %d objects", s.len())
	}
}

// Many slices of one service: removing any of them keeps the others indexed.
func TestStoreServiceIndex(t *testing.T) {
	s, _ := recordingStore()
	var all []string
	for i := range 50 {
		name := fmt.Sprintf("db-%02d", i)
		all = append(all, name)
		if err := s.Add(versioned(apiSlice(name, "db", "east", "10.1.0.10"), "1")); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 50; i += 7 {
		name := fmt.Sprintf("db-%02d", i)
		o, _ := s.get("shop", name)
		if err := s.Delete(o); err != nil {
			t.Fatal(err)
		}
		all = slices.DeleteFunc(all, func(n string) bool { return n == name })
	}
	if got := serviceSlices(s, "db"); !slices.Equal(got, all) {
		t.Errorf("db's slices:\n got  %v\n want %v", got, all)
	}
}

func serviceSlices(s *objectStore, svc string) []string {
	var names []string
	s.ofService(object.ServiceKey{Namespace: "shop", Name: svc}, func(o any) { names = append(names, o.(*object.EndpointSlice).Name) })
	slices.Sort(names)
	return names
}
