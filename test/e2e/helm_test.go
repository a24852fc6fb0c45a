package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// The release `helm install coredns-multicluster deploy/helm/coredns-multicluster -n
// kube-system` makes: with the default values, exactly deploy/standalone's objects.
const (
	helmRelease   = "coredns-multicluster"
	helmNamespace = "kube-system"
)

func chartDir(root string) string {
	return filepath.Join(root, "deploy", "helm", "coredns-multicluster")
}

// helmCapabilities is what Helm would learn from the suite's API server: its version.
func helmCapabilities(t *testing.T, s *suite) *common.Capabilities {
	t.Helper()
	info, err := s.clients.Kube.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	kv, err := common.ParseKubeVersion(info.GitVersion)
	if err != nil {
		t.Fatal(err)
	}
	caps := common.DefaultCapabilities.Copy()
	caps.KubeVersion = *kv
	return caps
}

// readValues reads a values file ("" for none: the chart's defaults).
func readValues(t *testing.T, path string) map[string]any {
	t.Helper()
	if path == "" {
		return map[string]any{}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := loader.LoadValues(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return vals
}

// renderChart renders the chart as `helm template` does (schema validation included)
// and returns the objects, or the error.
func renderChart(root string, caps *common.Capabilities, vals map[string]any) ([]*unstructured.Unstructured, error) {
	ch, err := loader.Load(chartDir(root))
	if err != nil {
		return nil, err
	}
	top, err := util.ToRenderValuesWithSchemaValidation(ch, vals,
		common.ReleaseOptions{Name: helmRelease, Namespace: helmNamespace, IsInstall: true, Revision: 1}, caps, false)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(ch, top)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	var objs []*unstructured.Unstructured
	for _, name := range names {
		if !strings.HasSuffix(name, ".yaml") {
			continue
		}
		docs, err := parseDocs(files[name])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		objs = append(objs, docs...)
	}
	return objs, nil
}

// parseDocs parses the objects of a multi-document YAML text.
func parseDocs(text string) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	for _, doc := range strings.Split("\n"+text, "\n---") {
		js, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			return nil, err
		}
		if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
			continue
		}
		o := &unstructured.Unstructured{}
		if err := o.UnmarshalJSON(js); err != nil {
			return nil, err
		}
		objs = append(objs, o)
	}
	return objs, nil
}

// standaloneObjects reads every object of deploy/standalone/*.yaml (not the forwarding
// recipes, which are the cluster DNS's objects).
func standaloneObjects(t *testing.T, root string) []*unstructured.Unstructured {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "deploy", "standalone", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("deploy/standalone: %v", err)
	}
	var objs []*unstructured.Unstructured
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := parseDocs(string(data))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		objs = append(objs, docs...)
	}
	return objs
}

func objKey(o *unstructured.Unstructured) string {
	return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
}

// TestHelmChart lints deploy/helm/coredns-multicluster with Helm's lint package, renders
// it with Helm's engine for the default values and for ci/custom-values.yaml, checks the
// defaults are deploy/standalone's objects, applies both renderings and deploy/standalone
// with a server-side dry run, and runs the custom rendering's Corefile.
func TestHelmChart(t *testing.T) {
	s := need(t)
	ctx := context.Background()
	caps := helmCapabilities(t, s)
	custom := filepath.Join(chartDir(s.root), "ci", "custom-values.yaml")

	t.Run("lint", func(t *testing.T) {
		for _, values := range []string{"", custom} {
			l := lint.RunAll(chartDir(s.root), readValues(t, values), helmNamespace, lint.WithKubeVersion(&caps.KubeVersion))
			for _, m := range l.Messages {
				t.Errorf("helm lint (values %q): %s", values, m)
			}
			if l.HighestSeverity > support.UnknownSev {
				t.Errorf("helm lint (values %q): highest severity %d", values, l.HighestSeverity)
			}
		}
	})

	defaults, err := renderChart(s.root, caps, readValues(t, ""))
	if err != nil {
		t.Fatalf("rendering the default values: %v", err)
	}
	t.Run("defaults are deploy/standalone", func(t *testing.T) {
		want := map[string]*unstructured.Unstructured{}
		for _, o := range standaloneObjects(t, s.root) {
			want[objKey(o)] = o
		}
		got := map[string]*unstructured.Unstructured{}
		for _, o := range defaults {
			got[objKey(o)] = o
		}
		for k, w := range want {
			g, ok := got[k]
			if !ok {
				t.Errorf("the chart's defaults render no %s", k)
				continue
			}
			if !reflect.DeepEqual(g.Object, w.Object) {
				gj, _ := json.MarshalIndent(g.Object, "", "  ")
				wj, _ := json.MarshalIndent(w.Object, "", "  ")
				t.Errorf("%s: the chart renders\n%s\ndeploy/standalone has\n%s", k, gj, wj)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("the chart's defaults render %s, which deploy/standalone lacks", k)
			}
		}
	})

	customObjs, err := renderChart(s.root, caps, readValues(t, custom))
	if err != nil {
		t.Fatalf("rendering %s: %v", custom, err)
	}
	t.Run("custom values", func(t *testing.T) {
		checkCustomRendering(t, s, customObjs)
	})

	t.Run("bad values are refused", func(t *testing.T) {
		for _, bad := range []map[string]any{
			{"ttl": 3601},
			{"replicas": 0},
			{"zones": []any{}},
			{"zone": "clusterset.local"}, // a misspelt key
		} {
			if _, err := renderChart(s.root, caps, bad); err == nil || !strings.Contains(err.Error(), "schema") {
				t.Errorf("values %v: %v, want a schema error", bad, err)
			}
		}
	})

	t.Run("server-side dry run", func(t *testing.T) {
		a := newApplier(t, s)
		for _, set := range []struct {
			what string
			objs []*unstructured.Unstructured
		}{
			{"deploy/standalone", standaloneObjects(t, s.root)},
			{"the chart's defaults", defaults},
			{"the chart with ci/custom-values.yaml", customObjs},
		} {
			var applied []string
			for _, o := range set.objs {
				if _, err := a.apply(ctx, o, "mcs-e2e-helm", true); err != nil {
					t.Errorf("%s: server-side dry-run apply of %s: %v", set.what, objKey(o), err)
					continue
				}
				applied = append(applied, o.GetKind())
			}
			t.Logf("%s: dry-run applied %s", set.what, strings.Join(applied, ", "))
		}
		if _, err := s.clients.Kube.AppsV1().Deployments(helmNamespace).Get(ctx, helmRelease, metav1.GetOptions{}); err == nil {
			t.Errorf("a dry run created Deployment %s/%s", helmNamespace, helmRelease)
		}
	})
}

// checkCustomRendering checks what ci/custom-values.yaml changes, and runs its Corefile
// with bin/coredns: the zones, cluster_id, ttl and extra line must make a Corefile
// CoreDNS accepts and that serves with that TTL.
func checkCustomRendering(t *testing.T, s *suite, objs []*unstructured.Unstructured) {
	byKind := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		if o.GetName() != helmRelease || o.GetNamespace() != helmNamespace && o.GetNamespace() != "" {
			t.Errorf("rendered %s: not the release's name or namespace", objKey(o))
		}
		byKind[o.GetKind()] = o
	}
	dep, svc, cm := byKind["Deployment"], byKind["Service"], byKind["ConfigMap"]
	if dep == nil || svc == nil || cm == nil {
		t.Fatalf("rendered kinds %v", byKind)
	}
	replicas, _, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas")
	if replicas != 3 {
		t.Errorf("replicas %d, want 3", replicas)
	}
	if img := containerImage(t, dep); img != "registry.example.com/dns/coredns-multicluster:v0.2.0" {
		t.Errorf("image %s", img)
	}
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	limit, _, _ := unstructured.NestedString(containers[0].(map[string]any), "resources", "limits", "memory")
	if limit != "512Mi" {
		t.Errorf("memory limit %q, want 512Mi", limit)
	}
	if ip, _, _ := unstructured.NestedString(svc.Object, "spec", "clusterIP"); ip != "10.96.0.54" {
		t.Errorf("Service clusterIP %q", ip)
	}
	corefile, _, _ := unstructured.NestedString(cm.Object, "data", "Corefile")
	wantCorefile := `clusterset.local:53 10.0.0.0/8:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    multicluster {
        cluster_id east.example
        ttl 30
    }
    prometheus :9153
    loadbalance
    log
}
`
	if corefile != wantCorefile {
		t.Fatalf("Corefile:\n%s\nwant\n%s", corefile, wantCorefile)
	}

	// CoreDNS runs it: changed only for this machine, as TestStandaloneBehind does.
	ports, err := harness.FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	port, health, ready, metrics := ports[0], ports[1], ports[2], ports[3]
	corefile = replaceOnce(t, "the rendered Corefile", corefile, []struct{ old, new string }{
		{"clusterset.local:53 10.0.0.0/8:53 {", fmt.Sprintf("clusterset.local:%[1]d 10.0.0.0/8:%[1]d {\n    bind 127.0.0.1", port)},
		{"health {", fmt.Sprintf("health 127.0.0.1:%d {", health)},
		{"ready\n", fmt.Sprintf("ready 127.0.0.1:%d\n", ready)},
		{"multicluster {\n", "multicluster {\n        kubeconfig " + s.kubeconfig + "\n"},
		{"prometheus :9153", fmt.Sprintf("prometheus 127.0.0.1:%d", metrics)},
	})
	ns := "helm-custom"
	mustNamespace(t, s.clients, ns)
	mustImport(t, s.clients, harness.Import{Namespace: ns, Name: "web", IPs: []string{"10.48.0.1"}, Families: v4only, Ports: []harness.Port{harness.TCP("http", 80)}}, false)
	startTestCoreDNS(t, port, corefile)
	if err := waitReady(context.Background(), ready, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	web := fq("", "web", ns)
	eventually(t, port, web, "A", want{answer: []string{"A 10.48.0.1"}, ttl: 30}, 5*time.Second)
	expect(t, port, fq("", "missing", ns), "A", want{rcode: "NXDOMAIN", ttl: 30})
	// The reverse zone is the plugin's: the VIP's PTR names the service.
	expect(t, port, "1.0.48.10.in-addr.arpa.", "PTR", want{answer: []string{"PTR " + web}, ttl: 30})
}
