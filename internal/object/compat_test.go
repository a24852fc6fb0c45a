package object

import "testing"

func TestPrefersClose(t *testing.T) {
	for td, want := range map[string]bool{
		"PreferClose": true, "PreferSameZone": true, "PreferSameNode": true,
		"": false, "preferclose": false, "Anywhere": false,
	} {
		if got := PrefersClose(&td); got != want {
			t.Errorf("PrefersClose(%q) = %v, want %v", td, got, want)
		}
	}
	if PrefersClose(nil) {
		t.Error("PrefersClose(nil) = true")
	}
}
