package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// TestDeployManifests applies every manifest of deploy/ with a server-side dry run: the
// API server validates them (schemas, references, immutable fields) without keeping them.
func TestDeployManifests(t *testing.T) {
	s := need(t)
	ctx := context.Background()
	ms, err := harness.LoadManifests(s.root)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(s.cp.AdminConfig())
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn, err := dynamic.NewForConfig(s.cp.AdminConfig())
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, m := range ms {
		gvk := m.Obj.GroupVersionKind()
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Errorf("deploy/%s: %s: %v", m.File, gvk, err)
			continue
		}
		var ri dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
		if ns := m.Obj.GetNamespace(); ns != "" {
			ri = dyn.Resource(mapping.Resource).Namespace(ns)
		}
		_, err = ri.Apply(ctx, m.Obj.GetName(), m.Obj, metav1.ApplyOptions{FieldManager: "mcs-e2e", Force: true, DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			t.Errorf("deploy/%s: server-side dry-run apply of %s %s/%s: %v", m.File, gvk.Kind, m.Obj.GetNamespace(), m.Obj.GetName(), err)
			continue
		}
		kinds = append(kinds, gvk.Kind+" "+m.Obj.GetName())
	}
	t.Logf("dry-run applied: %s", strings.Join(kinds, ", "))
	for _, want := range []string{"ServiceAccount coredns", "ClusterRole " + harness.ClusterRoleName, "ClusterRoleBinding " + harness.BindingName,
		"ConfigMap coredns", "Deployment coredns", "Service kube-dns"} {
		if !slices.Contains(kinds, want) {
			t.Errorf("deploy/ lacks a valid %s", want)
		}
	}

	// The dry run kept nothing: the Deployment does not exist.
	if _, err := s.clients.Kube.AppsV1().Deployments("kube-system").Get(ctx, "coredns", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after a dry run, Deployment kube-system/coredns: got %v, want NotFound", err)
	}
	if data, err := os.ReadFile(filepath.Join(s.root, "deploy", "Dockerfile")); err != nil || !strings.Contains(string(data), "COPY coredns /coredns") {
		t.Errorf("deploy/Dockerfile must package bin/coredns (COPY coredns /coredns): %v", err)
	}
}

// TestDeployClusterRoleLeastPrivilege pins the ClusterRole to list/watch on exactly what
// the kubernetes and multicluster plugins read.
func TestDeployClusterRoleLeastPrivilege(t *testing.T) {
	s := need(t)
	ms, err := harness.LoadManifests(s.root)
	if err != nil {
		t.Fatal(err)
	}
	m, err := harness.FindManifest(ms, "ClusterRole", harness.ClusterRoleName)
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.Unmarshal(m.JSON, &role); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range role.Rules {
		// The one named object the plugin reads: the ClusterProperty with the cluster id.
		named := slices.Equal(r.ResourceNames, []string{"cluster.clusterset.k8s.io"}) &&
			slices.Equal(r.APIGroups, []string{"about.k8s.io"}) && slices.Equal(r.Resources, []string{"clusterproperties"})
		if (len(r.ResourceNames) > 0 && !named) || len(r.NonResourceURLs) > 0 {
			t.Errorf("unexpected rule %+v", r)
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					got = append(got, fmt.Sprintf("%s/%s:%s", g, res, v))
				}
			}
		}
	}
	sort.Strings(got)
	want := []string{
		"/namespaces:list", "/namespaces:watch", "/services:list", "/services:watch",
		"about.k8s.io/clusterproperties:list", "about.k8s.io/clusterproperties:watch",
		"discovery.k8s.io/endpointslices:list", "discovery.k8s.io/endpointslices:watch",
		"multicluster.x-k8s.io/serviceimports:list", "multicluster.x-k8s.io/serviceimports:watch",
	}
	if !slices.Equal(got, want) {
		t.Errorf("ClusterRole %s grants\n  %v\nwant exactly\n  %v", harness.ClusterRoleName, got, want)
	}

	// What the API server says the coredns identity may do, through deploy/'s binding.
	ctx := context.Background()
	cs, err := kubernetes.NewForConfig(s.cp.CoreDNSConfig())
	if err != nil {
		t.Fatal(err)
	}
	rules, err := cs.AuthorizationV1().SelfSubjectRulesReviews().Create(ctx, selfRulesReview("default"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules.Status.ResourceRules {
		for _, v := range r.Verbs {
			if v != "list" && v != "watch" && !isSelfReview(r.APIGroups, r.Resources) {
				t.Errorf("coredns identity may %s %v %v", v, r.APIGroups, r.Resources)
			}
		}
	}
}

// TestDeployCorefile runs the Corefile of deploy/configmap.yaml, changed only where a
// test machine differs from a pod (listen addresses, a kubeconfig instead of the
// in-cluster config, forward to a local server instead of the node's resolver), and
// checks it serves both cluster.local and clusterset.local and reports ready.
func TestDeployCorefile(t *testing.T) {
	s := need(t)
	ctx := context.Background()
	ms, err := harness.LoadManifests(s.root)
	if err != nil {
		t.Fatal(err)
	}
	m, err := harness.FindManifest(ms, "ConfigMap", "coredns")
	if err != nil {
		t.Fatal(err)
	}
	corefile, _, _ := unstructured.NestedString(m.Obj.Object, "data", "Corefile")
	ports, err := harness.FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	port, ready, health, metrics := ports[0], ports[1], ports[2], ports[3]
	for _, r := range []struct{ old, new string }{
		{".:53 {", fmt.Sprintf(".:%d {\n    bind 127.0.0.1", port)},
		{"health {", fmt.Sprintf("health 127.0.0.1:%d {", health)},
		{"ready\n", fmt.Sprintf("ready 127.0.0.1:%d\n", ready)},
		{"kubernetes cluster.local in-addr.arpa ip6.arpa {", "kubernetes cluster.local in-addr.arpa ip6.arpa {\n       kubeconfig " + s.kubeconfig},
		{"multicluster clusterset.local\n", "multicluster clusterset.local {\n       kubeconfig " + s.kubeconfig + "\n    }\n"},
		{"prometheus :9153", fmt.Sprintf("prometheus 127.0.0.1:%d", metrics)},
		{"forward . /etc/resolv.conf", fmt.Sprintf("forward . 127.0.0.1:%d", s.port)},
	} {
		if strings.Count(corefile, r.old) != 1 {
			t.Fatalf("deploy/configmap.yaml's Corefile should contain %q once:\n%s", r.old, corefile)
		}
		corefile = strings.Replace(corefile, r.old, r.new, 1)
	}

	ns := "deploy-corefile"
	mustNamespace(t, s.clients, ns)
	mustImport(t, s.clients, harness.Import{Namespace: ns, Name: "web", IPs: []string{"10.44.0.1"}, Ports: []harness.Port{harness.TCP("http", 80)}}, false)
	svc := mustLocalService(t, s.clients, ns, "local")

	dir := t.TempDir()
	c, err := startCoreDNS(ctx, dir, port, corefile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Kill() })
	dumpLogOnFailure(t, c)
	if err := waitReady(ctx, ready, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if code, _, err := httpGet("http://127.0.0.1:" + strconv.Itoa(health) + "/health"); err != nil || code != 200 {
		t.Errorf("/health: %d %v", code, err)
	}
	eventually(t, port, "web."+ns+".svc.clusterset.local.", "A", want{answer: []string{"A 10.44.0.1"}}, 5*time.Second)
	expect(t, port, "local."+ns+".svc.cluster.local.", "A", want{answer: []string{"A " + svc.Spec.ClusterIP}, ttl: 30})
	expect(t, port, "local."+ns+".svc.clusterset.local.", "A", want{rcode: "NXDOMAIN"})
	expect(t, port, "dns-version.clusterset.local.", "TXT", want{answer: []string{`TXT "1.0.0"`}})
	if code, body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/metrics", metrics)); err != nil || code != 200 || !strings.Contains(body, "coredns_multicluster_service_imports") {
		t.Errorf("metrics on the Corefile's prometheus port: %d %v", code, err)
	}
}
