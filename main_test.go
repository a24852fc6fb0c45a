package multicluster

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	// mcs-api v0.5.2's fake clientset predates watch-list streaming; client-go's
	// reflector would wait forever for its initial-events bookmark. Real API servers
	// support it, so only the unit tests list-then-watch.
	os.Setenv("KUBE_FEATURE_WatchListClient", "false")
	os.Exit(m.Run())
}
