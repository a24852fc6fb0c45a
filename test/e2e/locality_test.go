package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// The about-api ClusterProperty CRD, as kubernetes-sigs/about-api ships it
// (config/crd/about.k8s.io_clusterproperties.yaml): group about.k8s.io, cluster-scoped,
// the value in spec.value. Only the schema the plugin reads is kept.
var (
	clusterPropertyCRD = map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		// about.k8s.io is a protected group: the API server wants the approval annotation
		// (KEP-2149 is the approved API).
		"metadata": map[string]any{"name": "clusterproperties.about.k8s.io",
			"annotations": map[string]any{"api-approved.kubernetes.io": "https://github.com/kubernetes/enhancements/pull/2149"}},
		"spec": map[string]any{
			"group": "about.k8s.io",
			"scope": "Cluster",
			"names": map[string]any{"kind": "ClusterProperty", "listKind": "ClusterPropertyList", "plural": "clusterproperties", "singular": "clusterproperty"},
			"versions": []any{map[string]any{
				"name": "v1alpha1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type": "object", "required": []any{"spec"},
					"properties": map[string]any{"spec": map[string]any{
						"type": "object", "required": []any{"value"},
						"properties": map[string]any{"value": map[string]any{"type": "string", "minLength": int64(1)}},
					}},
				}},
			}},
		},
	}
	crdGVR             = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	clusterPropertyGVR = schema.GroupVersionResource{Group: "about.k8s.io", Version: "v1alpha1", Resource: "clusterproperties"}
)

const clusterPropertyName = "cluster.clusterset.k8s.io"

// installClusterPropertyCRD installs the CRD, waits until it is served, and removes
// it (with every ClusterProperty) when the test ends.
func installClusterPropertyCRD(t *testing.T, dc dynamic.Interface) {
	t.Helper()
	ctx := context.Background()
	crds := dc.Resource(crdGVR)
	if _, err := crds.Create(ctx, &unstructured.Unstructured{Object: clusterPropertyCRD}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = crds.Delete(context.Background(), "clusterproperties.about.k8s.io", metav1.DeleteOptions{})
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := dc.Resource(clusterPropertyGVR).List(ctx, metav1.ListOptions{})
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ClusterProperty CRD not served: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func setClusterProperty(t *testing.T, dc dynamic.Interface, value string) {
	t.Helper()
	ctx := context.Background()
	res := dc.Resource(clusterPropertyGVR)
	cur, err := res.Get(ctx, clusterPropertyName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "about.k8s.io/v1alpha1", "kind": "ClusterProperty",
			"metadata": map[string]any{"name": clusterPropertyName},
			"spec":     map[string]any{"value": value},
		}}
		if _, err := res.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(cur.Object, value, "spec", "value"); err != nil {
		t.Fatal(err)
	}
	if _, err := res.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestLocality runs three multicluster instances in one CoreDNS against the shared
// cluster: one that learns the local cluster from the ClusterProperty (absent at
// first), one with cluster_id east, one with cluster_id west and prefer_local.
func TestLocality(t *testing.T) {
	s := need(t)
	ctx := context.Background()
	c := s.clients
	ns := "locality"
	mustNamespace(t, c, ns)
	pg := []harness.Port{harness.TCP("pg", 5432)}
	mustImport(t, c, harness.Import{Namespace: ns, Name: "db", Headless: true, Ports: pg, TrafficDistribution: "PreferClose"}, false)
	mustImport(t, c, harness.Import{Namespace: ns, Name: "plain", Headless: true, Ports: pg}, false)
	for _, svc := range []string{"db", "plain"} {
		mustSlice(t, c, harness.Slice{Namespace: ns, Name: svc + "-east", Service: svc, Cluster: "east", Ports: pg,
			Endpoints: []harness.Endpoint{harness.Ready("db-0", "10.61.0.1")}})
		mustSlice(t, c, harness.Slice{Namespace: ns, Name: svc + "-east-v6", Service: svc, Cluster: "east", AddressType: "IPv6", Ports: pg,
			Endpoints: []harness.Endpoint{harness.Ready("db-0", "fd00:61::1")}})
		mustSlice(t, c, harness.Slice{Namespace: ns, Name: svc + "-west", Service: svc, Cluster: "west", Ports: pg,
			Endpoints: []harness.Endpoint{harness.Ready("db-0", "10.61.1.1")}})
		mustSlice(t, c, harness.Slice{Namespace: ns, Name: svc + "-north", Service: svc, Cluster: "north", Ports: pg,
			Endpoints: []harness.Endpoint{harness.Ready("db-0", "10.61.2.1")}})
	}

	ports, err := harness.FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	auto, east, west, prom := ports[0], ports[1], ports[2], ports[3]
	dir := t.TempDir()
	corefile := fmt.Sprintf(`clusterset.local:%[1]d {
    bind 127.0.0.1
    multicluster {
        kubeconfig %[5]s
    }
    transfer {
        to *
    }
}
clusterset.local:%[2]d {
    bind 127.0.0.1
    prometheus 127.0.0.1:%[4]d
    multicluster {
        kubeconfig %[5]s
        cluster_id east
    }
    transfer {
        to *
    }
}
clusterset.local:%[3]d {
    bind 127.0.0.1
    multicluster {
        kubeconfig %[5]s
        cluster_id west
        prefer_local
    }
}
`, auto, east, west, prom, s.kubeconfig)
	dns, err := startCoreDNS(ctx, dir, auto, corefile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dns.Kill() })
	dumpLogOnFailure(t, dns)

	all := want{answer: []string{"A 10.61.0.1", "A 10.61.1.1", "A 10.61.2.1"}}
	eastOnly := want{answer: []string{"A 10.61.0.1"}}
	westOnly := want{answer: []string{"A 10.61.1.1"}}
	db, plain := fq("", "db", ns), fq("", "plain", ns)

	// No ClusterProperty CRD: the local cluster is unknown, nothing is narrowed.
	eventually(t, auto, db, "A", all, 10*time.Second)
	expectRows(t, east, []row{
		{db, "A", eastOnly},
		// A and AAAA: the same subset.
		{db, "AAAA", want{answer: []string{"AAAA fd00:61::1"}}},
		{db, "SRV", want{answer: []string{"SRV 5432 " + fq("db-0.east", "db", ns)}}},
		{fq("_pg._tcp", "db", ns), "SRV", want{answer: []string{"SRV 5432 " + fq("db-0.east", "db", ns)}}},
		// Per-endpoint names are never narrowed.
		{fq("db-0.west", "db", ns), "A", westOnly},
		// The field absent: every cluster.
		{plain, "A", all},
	})
	expectRows(t, west, []row{
		{db, "A", westOnly},
		// prefer_local: every service, the field or not.
		{plain, "A", westOnly},
		{plain, "AAAA", want{}},
	})
	// AXFR carries what queries answer.
	rrs, out, err := harness.Transfer(east, Zone, nil)
	if err != nil {
		t.Fatal(err)
	}
	var dbA []string
	for _, rr := range rrs {
		if strings.EqualFold(rr.Header().Name, db) && harness.Data(rr)[:2] == "A " {
			dbA = append(dbA, harness.Data(rr))
		}
	}
	if strings.Join(dbA, ",") != "A 10.61.0.1" {
		t.Errorf("AXFR has %v for %s, want only east's address\n%s", dbA, db, out)
	}
	if v := metrics(t, prom)["coredns_multicluster_locality_answers_total"]; v < 1 {
		t.Errorf("locality_answers_total = %v, want > 0", v)
	}

	// The local cluster loses its IPv4 endpoint: it still has a ready endpoint (IPv6),
	// and A and AAAA answer the same subset, so A is empty.
	setEast := func(v4, v6 harness.Endpoint) func() error {
		return func() error {
			if err := c.UpdateSlice(ctx, harness.Slice{Namespace: ns, Name: "db-east", Service: "db", Cluster: "east", Ports: pg,
				Endpoints: []harness.Endpoint{v4}}); err != nil {
				return err
			}
			return c.UpdateSlice(ctx, harness.Slice{Namespace: ns, Name: "db-east-v6", Service: "db", Cluster: "east", AddressType: "IPv6", Ports: pg,
				Endpoints: []harness.Endpoint{v6}})
		}
	}
	step(t, east, "east's IPv4 endpoint not ready", setEast(harness.NotReady("db-0", "10.61.0.1"), harness.Ready("db-0", "fd00:61::1")), db, "A", want{})
	expect(t, east, db, "AAAA", want{answer: []string{"AAAA fd00:61::1"}})
	// No ready endpoint left in the local cluster: every cluster answers; then back.
	step(t, east, "east has no ready endpoint", setEast(harness.NotReady("db-0", "10.61.0.1"), harness.NotReady("db-0", "fd00:61::1")),
		db, "A", want{answer: []string{"A 10.61.1.1", "A 10.61.2.1"}})
	step(t, east, "east's endpoints ready again", setEast(harness.Ready("db-0", "10.61.0.1"), harness.Ready("db-0", "fd00:61::1")), db, "A", eastOnly)
	// The field removed, then set to PreferSameZone (read as same cluster).
	step(t, east, "trafficDistribution removed", func() error {
		return c.UpdateImport(ctx, harness.Import{Namespace: ns, Name: "db", Headless: true, Ports: pg}, false)
	}, db, "A", all)
	step(t, east, "trafficDistribution PreferSameZone", func() error {
		return c.UpdateImport(ctx, harness.Import{Namespace: ns, Name: "db", Headless: true, Ports: pg, TrafficDistribution: "PreferSameZone"}, false)
	}, db, "A", eastOnly)

	// The ClusterProperty: its CRD installed, then the object, then changed, then deleted.
	if n := strings.Count(dns.Log(), "no ClusterProperty CRD (clusterproperties.about.k8s.io) served"); n != 1 {
		t.Errorf("the missing ClusterProperty CRD was logged %d times, want once", n)
	}
	dc, err := dynamic.NewForConfig(s.cp.AdminConfig())
	if err != nil {
		t.Fatal(err)
	}
	installClusterPropertyCRD(t, dc)
	setClusterProperty(t, dc, "west")
	// The plugin polls for the CRD with a backoff of at most 10 s.
	took := eventually(t, auto, db, "A", westOnly, 15*time.Second)
	t.Logf("ClusterProperty west seen after %s (CRD discovery backoff included)", took.Round(time.Millisecond))
	setClusterProperty(t, dc, "East")
	took = eventually(t, auto, db, "A", eastOnly, freshness)
	t.Logf("ClusterProperty changed to east: seen after %s", took.Round(time.Millisecond))
	expect(t, auto, plain, "A", all)
	if err := dc.Resource(clusterPropertyGVR).Delete(ctx, clusterPropertyName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	took = eventually(t, auto, db, "A", all, freshness)
	t.Logf("ClusterProperty deleted: seen after %s", took.Round(time.Millisecond))
	// A Corefile cluster_id wins over the ClusterProperty.
	setClusterProperty(t, dc, "north")
	eventually(t, auto, db, "A", want{answer: []string{"A 10.61.2.1"}}, freshness)
	expect(t, east, db, "A", eastOnly)
}

// TestReadmeExamples boots every Corefile of the README's Locality, PTR and NOTIFY
// sections, changed only where a test machine differs from a pod (a port on 127.0.0.1,
// a kubeconfig instead of the in-cluster config), and checks that each answers.
func TestReadmeExamples(t *testing.T) {
	s := need(t)
	b, err := os.ReadFile(filepath.Join(s.root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	blockOpen := regexp.MustCompile(`(?m)^(\s*)((?:multicluster|kubernetes)[^\n{]*\{)$`)
	bare := regexp.MustCompile(`(?m)^(\s*)(multicluster[^\n{]*)$`)
	server := regexp.MustCompile(`(?m)^(\S+?)(:\d+)? \{$`)
	n := 0
	for _, section := range []string{"### Locality\n", "### PTR\n", "### Secondaries and NOTIFY\n"} {
		i := strings.Index(readme, section)
		if i < 0 {
			t.Fatalf("README has no %q", section)
		}
		body := readme[i+len(section):]
		body = body[:strings.Index(body, "\n#")]
		for _, part := range strings.Split(body, "~~~ corefile\n")[1:] {
			corefile := part[:strings.Index(part, "~~~")]
			ports, err := harness.FreePorts(1)
			if err != nil {
				t.Fatal(err)
			}
			conf := server.ReplaceAllString(corefile, fmt.Sprintf("$1:%d {\n    bind 127.0.0.1", ports[0]))
			conf = blockOpen.ReplaceAllString(conf, "$1$2\n$1    kubeconfig "+s.kubeconfig)
			conf = bare.ReplaceAllString(conf, "$1$2 {\n$1    kubeconfig "+s.kubeconfig+"\n$1}")
			n++
			t.Run(fmt.Sprintf("%d", n), func(t *testing.T) {
				c, err := startCoreDNS(context.Background(), t.TempDir(), ports[0], conf)
				if err != nil {
					t.Fatalf("%v\n%s", err, conf)
				}
				t.Cleanup(func() { _ = c.Kill() })
				dumpLogOnFailure(t, c)
				eventually(t, ports[0], "dns-version."+Zone, "TXT", want{answer: []string{`TXT "1.0.0"`}}, 10*time.Second)
			})
		}
	}
	if n < 3 {
		t.Errorf("%d Corefiles in the README's sections, want at least 3", n)
	}
}
