package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// defaultTTL is the plugin's default TTL, also the SOA minimum (negative TTL).
const defaultTTL = 5

// want is what one dig response must be. Every response is also checked for the rules
// that hold for all answers (see verify).
type want struct {
	// rcode is NOERROR (the default), NXDOMAIN, SERVFAIL, ...
	rcode string
	// answer is the answer section as Data strings, in any order; nil means empty.
	answer []string
	// extra, when set, must all be in the additional section, as "owner Data" strings.
	extra []string
	// ttl is the TTL of the answers and of the SOA in negative answers (default defaultTTL).
	ttl uint32
	// foreign means another plugin answers: only rcode and answer are checked.
	foreign bool
}

func (w want) String() string {
	rc := w.rcode
	if rc == "" {
		rc = "NOERROR"
	}
	return fmt.Sprintf("%s %v", rc, w.answer)
}

// verify checks r against w and the rules every answer of the plugin follows:
// authoritative; owners spelled as the query; no repeated record (RFC 2181 §5); the
// TTL; and for NXDOMAIN and NODATA, the zone's SOA in Authority with the SOA's TTL
// (RFC 2308). It returns the problems found.
func verify(r *harness.Response, qname string, w want) []string {
	var errs []string
	rcode := w.rcode
	if rcode == "" {
		rcode = "NOERROR"
	}
	if r.Status != rcode {
		errs = append(errs, fmt.Sprintf("status %s, want %s", r.Status, rcode))
	}
	got := harness.Datas(r.Answer)
	sort.Strings(got)
	exp := slices.Clone(w.answer)
	sort.Strings(exp)
	if !slices.Equal(got, exp) {
		errs = append(errs, fmt.Sprintf("answer %q, want %q", got, exp))
	}
	for _, e := range w.extra {
		found := false
		for _, rr := range r.Additional {
			if strings.EqualFold(rr.Header().Name, strings.Fields(e)[0]) && harness.Data(rr) == strings.SplitN(e, " ", 2)[1] {
				found = true
			}
		}
		if !found {
			errs = append(errs, fmt.Sprintf("additional section lacks %q", e))
		}
	}
	if w.foreign || rcode == "SERVFAIL" || rcode == "REFUSED" {
		return errs
	}
	if !r.Flags["aa"] {
		errs = append(errs, "not authoritative (no aa flag)")
	}
	ttl := w.ttl
	if ttl == 0 {
		ttl = defaultTTL
	}
	for _, rr := range r.Answer {
		if rr.Header().Name != qname {
			errs = append(errs, fmt.Sprintf("owner %q, want the query's spelling %q", rr.Header().Name, qname))
		}
		if rr.Header().Ttl != ttl {
			errs = append(errs, fmt.Sprintf("TTL %d on %s, want %d", rr.Header().Ttl, rr, ttl))
		}
	}
	seen := map[string]bool{}
	for _, rr := range r.Answer {
		k := rr.String()
		if seen[k] {
			errs = append(errs, "repeated record "+k)
		}
		seen[k] = true
	}
	if len(r.Answer) == 0 && (rcode == "NOERROR" || rcode == "NXDOMAIN") && strings.HasSuffix(strings.ToLower(qname), Zone) {
		soas := authoritySOAs(r)
		switch {
		case len(soas) != 1:
			errs = append(errs, fmt.Sprintf("%d SOA records in authority, want 1", len(soas)))
		case soas[0].Hdr.Name != Zone || soas[0].Ns != "ns.dns."+Zone || soas[0].Mbox != "hostmaster."+Zone:
			errs = append(errs, "authority SOA is not the zone's: "+soas[0].String())
		case soas[0].Hdr.Ttl != ttl || soas[0].Minttl != ttl:
			errs = append(errs, fmt.Sprintf("negative TTL: SOA TTL %d, minimum %d, want %d", soas[0].Hdr.Ttl, soas[0].Minttl, ttl))
		}
	}
	return errs
}

// expect digs name/qtype on port once and checks the response.
func expect(t *testing.T, port int, name, qtype string, w want, extra ...string) *harness.Response {
	t.Helper()
	r, err := harness.Query(port, name, qtype, extra...)
	if err != nil {
		t.Errorf("%s %s: %v", name, qtype, err)
		return nil
	}
	if errs := verify(r, dns.Fqdn(name), w); len(errs) > 0 {
		t.Errorf("dig %s %s: %s\n%s", name, qtype, strings.Join(errs, "; "), r.Raw)
	}
	return r
}

// eventually digs name/qtype every 50 ms until the response matches w, and fails after
// timeout. It returns how long it took.
func eventually(t *testing.T, port int, name, qtype string, w want, timeout time.Duration, extra ...string) time.Duration {
	t.Helper()
	begin := time.Now()
	var last string
	for {
		r, err := harness.Query(port, name, qtype, extra...)
		if err == nil {
			errs := verify(r, dns.Fqdn(name), w)
			if len(errs) == 0 {
				return time.Since(begin)
			}
			last = strings.Join(errs, "; ") + "\n" + r.Raw
		} else {
			last = err.Error()
		}
		if time.Since(begin) > timeout {
			t.Fatalf("dig %s %s: not %v after %s; last: %s", name, qtype, w, timeout, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// row is one question and its expected answer.
type row struct {
	name, qtype string
	want        want
}

// expectRows asks every row with one dig process and checks each response.
func expectRows(t *testing.T, port int, rows []row, extra ...string) {
	t.Helper()
	qs := make([]harness.Question, len(rows))
	for i, r := range rows {
		qs[i] = harness.Question{Name: r.name, Type: r.qtype}
	}
	rs, err := harness.QueryBatch(port, qs, extra...)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if errs := verify(r, dns.Fqdn(rows[i].name), rows[i].want); len(errs) > 0 {
			t.Errorf("dig %s %s: %s\n%s", rows[i].name, rows[i].qtype, strings.Join(errs, "; "), r.Raw)
		}
	}
}

// serial returns the zone's SOA serial.
func serial(t *testing.T, port int) uint32 {
	t.Helper()
	r, err := harness.Query(port, Zone, "SOA")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Answer) != 1 {
		t.Fatalf("SOA query: %s", r.Raw)
	}
	soa, ok := r.Answer[0].(*dns.SOA)
	if !ok {
		t.Fatalf("SOA query: %s", r.Raw)
	}
	return soa.Serial
}

func mustNamespace(t *testing.T, c Clients, name string) {
	t.Helper()
	if err := c.Namespace(context.Background(), name); err != nil {
		t.Fatalf("namespace %s: %v", name, err)
	}
}

func mustImport(t *testing.T, c Clients, i harness.Import, alpha bool) {
	t.Helper()
	if err := c.CreateImport(context.Background(), i, alpha); err != nil {
		t.Fatal(err)
	}
}

func mustSlice(t *testing.T, c Clients, s harness.Slice) {
	t.Helper()
	if err := c.CreateSlice(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// mustLocalService creates a plain ClusterIP Service (no ServiceImport), as a cluster
// has for its own services.
func mustLocalService(t *testing.T, c Clients, ns, name string) *corev1.Service {
	t.Helper()
	svc, err := c.Kube.CoreV1().Services(ns).Create(context.Background(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// dumpLogOnFailure logs the tail of CoreDNS's log when t fails.
func dumpLogOnFailure(t *testing.T, c *harness.CoreDNS) {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			log := c.Log()
			if len(log) > 8000 {
				log = "...\n" + log[len(log)-8000:]
			}
			t.Logf("CoreDNS log (%s):\n%s", c.LogPath, log)
		}
	})
}

func selfRulesReview(ns string) *authzv1.SelfSubjectRulesReview {
	return &authzv1.SelfSubjectRulesReview{Spec: authzv1.SelfSubjectRulesReviewSpec{Namespace: ns}}
}

// isSelfReview reports whether a rule is one of the self-review rules every
// authenticated user has (system:basic-user).
func isSelfReview(groups, resources []string) bool {
	for _, g := range groups {
		if g != "authorization.k8s.io" && g != "authentication.k8s.io" {
			return false
		}
	}
	for _, r := range resources {
		if !strings.HasPrefix(r, "self") {
			return false
		}
	}
	return true
}

// metrics scrapes a prometheus endpoint into "name{labels}" -> value.
func metrics(t *testing.T, port int) map[string]float64 {
	t.Helper()
	code, body, err := httpGet("http://127.0.0.1:" + strconv.Itoa(port) + "/metrics")
	if err != nil || code != 200 {
		t.Fatalf("metrics: %d %v", code, err)
	}
	return parseMetrics(body)
}

// parseMetrics reads Prometheus text into "name{labels}" -> value.
func parseMetrics(body string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
		// The plugin's gauges carry the server block's server and zone labels; the
		// server blocks of one CoreDNS watch the same objects, so the tests read them
		// without those labels too.
		if strings.HasPrefix(line, "coredns_multicluster_") {
			out[withoutServerZone(line[:i])] = v
		}
	}
	return out
}

// fq returns the fully qualified name of a service-relative name in namespace ns.
func fq(rel, svc, ns string) string {
	if rel == "" {
		return svc + "." + ns + ".svc." + Zone
	}
	return rel + "." + svc + "." + ns + ".svc." + Zone
}

// withoutServerZone drops the server and zone labels of a "name{labels}" series.
func withoutServerZone(series string) string {
	open := strings.IndexByte(series, '{')
	if open < 0 || !strings.HasSuffix(series, "}") {
		return series
	}
	var kept []string
	for _, l := range strings.Split(series[open+1:len(series)-1], ",") {
		if !strings.HasPrefix(l, "server=") && !strings.HasPrefix(l, "zone=") {
			kept = append(kept, l)
		}
	}
	if len(kept) == 0 {
		return series[:open]
	}
	return series[:open] + "{" + strings.Join(kept, ",") + "}"
}

// startCoreDNS starts bin/coredns with corefile in dir and waits until it answers DNS
// on port.
func startCoreDNS(ctx context.Context, dir string, port int, corefile string) (*harness.CoreDNS, error) {
	return harness.Start(ctx, harness.Options{Dir: dir, Port: port, Corefile: corefile, Wait: 30 * time.Second})
}

// startTestCoreDNS starts bin/coredns with corefile, answering on port, for one test:
// it is killed when the test ends and its log is shown if the test fails.
func startTestCoreDNS(t *testing.T, port int, corefile string) *harness.CoreDNS {
	t.Helper()
	c, err := startCoreDNS(context.Background(), t.TempDir(), port, corefile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Kill() })
	dumpLogOnFailure(t, c)
	return c
}

// httpGet fetches url and returns the status code and body (for /ready, /health, /metrics).
func httpGet(url string) (int, string, error) {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// authoritySOAs returns the SOA records of a response's authority section.
func authoritySOAs(r *harness.Response) []*dns.SOA {
	var soas []*dns.SOA
	for _, rr := range r.Authority {
		if soa, ok := rr.(*dns.SOA); ok {
			soas = append(soas, soa)
		}
	}
	return soas
}
