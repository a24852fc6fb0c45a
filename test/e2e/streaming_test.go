package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// The plugin's informers take their initial state as a streamed list (WatchList,
// KEP-3157: a watch with sendInitialEvents), each object trimmed as it arrives, instead
// of a LIST whose whole decoded body is held at once. These tests read the proof from
// the API server's own request metrics.

// listRequests returns the API server's count of LIST requests and of streamed
// (watch-list) initial lists for EndpointSlices and ServiceImports.
func listRequests(t *testing.T, s *suite) (lists, streamed map[string]float64) {
	t.Helper()
	body, err := s.clients.Kube.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatalf("kube-apiserver /metrics: %v", err)
	}
	lists, streamed = map[string]float64{}, map[string]float64{}
	for series, v := range parseMetrics(string(body)) {
		for _, res := range []string{"endpointslices", "serviceimports"} {
			if !strings.Contains(series, `resource="`+res+`"`) {
				continue
			}
			switch {
			case strings.HasPrefix(series, "apiserver_request_total{") && strings.Contains(series, `verb="LIST"`):
				lists[res] += v
			case strings.HasPrefix(series, "apiserver_watch_list_duration_seconds_count{"):
				streamed[res] += v
			}
		}
	}
	return lists, streamed
}

// TestInitialListsAreStreamed: a CoreDNS starting against the API server makes no LIST
// of EndpointSlices or ServiceImports (its access check is a SelfSubjectAccessReview),
// and the API server counts streamed initial lists instead.
func TestInitialListsAreStreamed(t *testing.T) {
	s := need(t)
	ports, err := harness.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	port := ports[0]
	ns := "streaming"
	mustNamespace(t, s.clients, ns)
	mustImport(t, s.clients, harness.Import{Namespace: ns, Name: "web", IPs: []string{"10.98.0.1"}, Ports: []harness.Port{harness.TCP("http", 80)}}, false)

	listsBefore, streamedBefore := listRequests(t, s)
	startTestCoreDNS(t, port, fmt.Sprintf(`clusterset.local:%d {
    bind 127.0.0.1
    multicluster {
        kubeconfig %s
    }
}
`, port, s.kubeconfig))
	eventually(t, port, fq("", "web", ns), "A", want{answer: []string{"A 10.98.0.1"}}, 10*time.Second)
	expect(t, port, fq("", "nope", ns), "A", want{rcode: "NXDOMAIN"})

	listsAfter, streamedAfter := listRequests(t, s)
	for _, res := range []string{"endpointslices", "serviceimports"} {
		if d := listsAfter[res] - listsBefore[res]; d != 0 {
			t.Errorf("%s: %v LIST requests while CoreDNS started, want none (streamed lists)", res, d)
		}
		if d := streamedAfter[res] - streamedBefore[res]; d < 1 {
			t.Errorf("%s: %v streamed initial lists while CoreDNS started, want at least 1", res, d)
		}
	}
	t.Logf("LIST before/after: %v / %v; streamed before/after: %v / %v", listsBefore, listsAfter, streamedBefore, streamedAfter)
}
