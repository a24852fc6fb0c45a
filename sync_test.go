package multicluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestSyncedMeansEveryImportPublished: once the controller says it is synced (and the
// plugin is ready), every ServiceImport of the initial list answers. Informer
// HasSynced only says the informer's store holds the list; the event handlers may
// still be behind, so a controller that trusted it answered NXDOMAIN for services that
// exist (and resolvers cache that for the SOA minimum).
func TestSyncedMeansEveryImportPublished(t *testing.T) {
	sizes := []int{20000, 40000}
	runs := 3
	if testing.Short() {
		sizes, runs = []int{20000}, 1
	}
	for _, n := range sizes {
		f := newFakeCluster("v1beta1")
		for i := range n {
			si := clusterSetIP(fmt.Sprintf("ns%d", i%50), fmt.Sprintf("svc%d", i), []string{fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)}, nil)
			if err := f.mcs.Tracker().Add(si); err != nil {
				t.Fatal(err)
			}
		}
		for run := range runs {
			t.Run(fmt.Sprintf("%d/run%d", n, run), func(t *testing.T) {
				m := New([]string{"clusterset.local."})
				m.ctrl = newController(f.kube, f.mcs, m.index, m.longestZone())
				m.ctrl.start()
				defer m.ctrl.stop()
				m.ctrl.waitSettled(2 * time.Minute)
				if !m.Ready() {
					t.Fatalf("not ready after the initial list (state %s)", watchState(m.ctrl.state.Load()))
				}
				missing := 0
				for i := range n {
					name := fmt.Sprintf("svc%d.ns%d.svc.clusterset.local.", i, i%50)
					if rcode, _ := query(t, m, name, dns.TypeA); rcode != dns.RcodeSuccess {
						missing++
						if missing <= 3 {
							t.Errorf("%s: %s once synced", name, dns.RcodeToString[rcode])
						}
					}
				}
				if missing > 0 {
					t.Errorf("%d of %d existing services did not answer once synced", missing, n)
				}
			})
		}
	}
}
