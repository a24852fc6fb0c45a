package watch

import (
	"testing"

	"k8s.io/client-go/tools/cache"

	"github.com/mcs-dns/multicluster/internal/object"
)

// TestRelistReusesStoredCopies: a relisted object with the resource version of the
// stored copy becomes that copy (no second trimmed copy during a relist); a new version,
// or an object without a version, is trimmed afresh.
func TestRelistReusesStoredCopies(t *testing.T) {
	store := newObjectStore(object.TransformSlice, func(any, any, bool) {}, sliceService)
	tr := store.Transformer()
	api := apiSlice("db-east", "db", "east", "10.1.0.10")
	api.ResourceVersion = "5"
	if err := store.Add(api); err != nil {
		t.Fatal(err)
	}
	first, _ := store.get("shop", "db-east")

	again := api.DeepCopy()
	if got, _ := tr(again); got != first {
		t.Error("same resource version: a second copy instead of the stored one")
	}
	changed := api.DeepCopy()
	changed.ResourceVersion = "6"
	changed.Endpoints[0].Addresses = []string{"10.1.0.11"}
	got, _ := tr(changed)
	if got == first || got.(*object.EndpointSlice).Endpoints[0].Addr.String() != "10.1.0.11" {
		t.Errorf("new resource version: got %+v, want a fresh trim", got)
	}
	unversioned := api.DeepCopy()
	unversioned.ResourceVersion = ""
	if got, _ := tr(unversioned); got == first {
		t.Error("an object without a resource version was taken for the stored copy")
	}
	other := api.DeepCopy()
	other.Name = "db-west"
	if got, _ := tr(other); got == first {
		t.Error("another object with the same version was taken for the stored copy")
	}
	// Trimmed objects and tombstones pass through (the reflector may transform twice).
	if got, _ := tr(first); got != first {
		t.Error("a trimmed object was not returned as is")
	}
	tomb := cache.DeletedFinalStateUnknown{Key: "shop/db-east", Obj: first}
	if got, _ := tr(tomb); got != tomb {
		t.Error("a tombstone was changed")
	}
}
