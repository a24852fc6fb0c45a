package controlplane

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/tools/clientcmd"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"
	mcsclient "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned"
)

// start starts a control plane for t, skipping the test when the binaries are missing unless
// MCS_E2E_REQUIRED is set.
func start(t *testing.T, ctx context.Context, opts Options) *ControlPlane {
	t.Helper()
	begin := time.Now()
	cp, err := Start(ctx, opts)
	if errors.Is(err, ErrBinaryNotFound) && os.Getenv("MCS_E2E_REQUIRED") == "" {
		t.Skipf("skipping: %v (set MCS_E2E_REQUIRED=1 to make this a failure)", err)
	}
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("control plane ready in %s (API server %s, work dir %s)", time.Since(begin).Round(time.Millisecond), cp.Host(), cp.Dir())
	t.Cleanup(func() {
		if err := cp.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return cp
}

// served reports whether the API server serves resource in group/version, via discovery.
func served(t *testing.T, cp *ControlPlane, groupVersion, resource string) bool {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(cp.AdminConfig())
	if err != nil {
		t.Fatal(err)
	}
	list, err := dc.ServerResourcesForGroupVersion(groupVersion)
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil {
		t.Fatalf("discovery of %s: %v", groupVersion, err)
	}
	for _, r := range list.APIResources {
		if r.Name == resource {
			return true
		}
	}
	return false
}

func TestControlPlane(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cp := start(t, ctx, Options{})

	etcdPID, apiPID := cp.PIDs()
	if etcdRSS, apiRSS, err := cp.RSS(); err == nil {
		t.Logf("RSS after start: etcd %d MiB, kube-apiserver %d MiB", etcdRSS>>20, apiRSS>>20)
	}

	// Both versions served, as mcs-api ships the CRDs.
	for _, gv := range []string{"multicluster.x-k8s.io/v1alpha1", "multicluster.x-k8s.io/v1beta1"} {
		for _, res := range []string{"serviceimports", "serviceexports"} {
			if !served(t, cp, gv, res) {
				t.Errorf("%s %s not served after Start", gv, res)
			}
		}
	}

	const ns = "cp-test"
	if err := cp.Namespace(ctx, ns); err != nil {
		t.Fatalf("Namespace: %v", err)
	}
	if err := cp.Namespace(ctx, ns); err != nil {
		t.Fatalf("Namespace again: %v", err)
	}

	admin, err := mcsclient.NewForConfig(cp.AdminConfig())
	if err != nil {
		t.Fatal(err)
	}
	si := &mcsv1beta1.ServiceImport{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: mcsv1beta1.ServiceImportSpec{
			Type:  mcsv1beta1.ClusterSetIP,
			IPs:   []string{"10.42.0.1"},
			Ports: []mcsv1beta1.ServicePort{{Name: "http", Protocol: "TCP", Port: 80}},
		},
	}
	if _, err := admin.MulticlusterV1beta1().ServiceImports(ns).Create(ctx, si, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating v1beta1 ServiceImport: %v", err)
	}
	// Stored as v1beta1, readable as v1alpha1 too (conversion None: same schema shape).
	if _, err := admin.MulticlusterV1alpha1().ServiceImports(ns).Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Errorf("reading it as v1alpha1: %v", err)
	}

	// The CoreDNS identity has no RBAC yet.
	coredns, err := mcsclient.NewForConfig(cp.CoreDNSConfig())
	if err != nil {
		t.Fatal(err)
	}
	_, err = coredns.MulticlusterV1beta1().ServiceImports("").List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("coredns listing serviceimports before RBAC: got %v, want 403 Forbidden", err)
	} else if !strings.Contains(err.Error(), CoreDNSUserName) {
		t.Errorf("403 does not name %s: %v", CoreDNSUserName, err)
	}

	// Kubeconfig files work.
	for _, u := range []User{Admin, CoreDNS} {
		path := filepath.Join(t.TempDir(), string(u)+".kubeconfig")
		if err := cp.WriteKubeconfig(path, u); err != nil {
			t.Fatalf("WriteKubeconfig(%s): %v", u, err)
		}
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			t.Fatalf("loading %s kubeconfig: %v", u, err)
		}
		c, err := mcsclient.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.MulticlusterV1beta1().ServiceImports(ns).Get(ctx, "web", metav1.GetOptions{})
		if u == Admin && err != nil {
			t.Errorf("admin kubeconfig: %v", err)
		}
		if u == CoreDNS && !apierrors.IsForbidden(err) {
			t.Errorf("coredns kubeconfig: got %v, want 403", err)
		}
	}

	// CRDs absent, then only v1alpha1.
	if err := cp.DeleteCRDs(ctx); err != nil {
		t.Fatalf("DeleteCRDs: %v", err)
	}
	if served(t, cp, "multicluster.x-k8s.io/v1beta1", "serviceimports") {
		t.Error("v1beta1 serviceimports still served after DeleteCRDs")
	}
	if err := cp.DeleteCRDs(ctx); err != nil {
		t.Fatalf("DeleteCRDs when absent: %v", err)
	}
	if err := cp.InstallCRDs(ctx, OnlyV1alpha1); err != nil {
		t.Fatalf("InstallCRDs(OnlyV1alpha1): %v", err)
	}
	if !served(t, cp, "multicluster.x-k8s.io/v1alpha1", "serviceimports") {
		t.Error("v1alpha1 serviceimports not served with OnlyV1alpha1")
	}
	if served(t, cp, "multicluster.x-k8s.io/v1beta1", "serviceimports") {
		t.Error("v1beta1 serviceimports served with OnlyV1alpha1")
	}
	siA := &mcsv1alpha1.ServiceImport{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Spec: mcsv1alpha1.ServiceImportSpec{
			Type:  mcsv1alpha1.Headless,
			Ports: []mcsv1alpha1.ServicePort{{Name: "sql", Protocol: "TCP", Port: 5432}},
		},
	}
	if _, err := admin.MulticlusterV1alpha1().ServiceImports(ns).Create(ctx, siA, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating v1alpha1 ServiceImport: %v", err)
	}
	// Switching variants replaces the CRDs (and drops their objects).
	if err := cp.InstallCRDs(ctx, BothVersions); err != nil {
		t.Fatalf("InstallCRDs(BothVersions) over OnlyV1alpha1: %v", err)
	}
	if !served(t, cp, "multicluster.x-k8s.io/v1beta1", "serviceimports") {
		t.Error("v1beta1 serviceimports not served after switching back to BothVersions")
	}
	if _, err := admin.MulticlusterV1beta1().ServiceImports(ns).Create(ctx, si.DeepCopy(), metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating v1beta1 ServiceImport again: %v", err)
	}

	// API server restart: same port, same data.
	begin := time.Now()
	if err := cp.RestartAPIServer(ctx); err != nil {
		t.Fatalf("RestartAPIServer: %v", err)
	}
	t.Logf("API server restarted in %s", time.Since(begin).Round(time.Millisecond))
	if _, err := admin.MulticlusterV1beta1().ServiceImports(ns).Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Errorf("ServiceImport after API server restart: %v", err)
	}
	if _, newAPI := cp.PIDs(); newAPI == apiPID || newAPI == 0 {
		t.Errorf("API server pid %d after restart, was %d", newAPI, apiPID)
	}

	// API server down: requests fail; back up: they work.
	if err := cp.StopAPIServer(); err != nil {
		t.Fatalf("StopAPIServer: %v", err)
	}
	shortCtx, shortCancel := context.WithTimeout(ctx, 3*time.Second)
	_, err = admin.MulticlusterV1beta1().ServiceImports(ns).Get(shortCtx, "web", metav1.GetOptions{})
	shortCancel()
	if err == nil {
		t.Error("request succeeded with the API server stopped")
	}
	if err := cp.StartAPIServer(ctx); err != nil {
		t.Fatalf("StartAPIServer: %v", err)
	}

	// etcd restart: same ports, same data.
	begin = time.Now()
	if err := cp.RestartEtcd(ctx); err != nil {
		t.Fatalf("RestartEtcd: %v", err)
	}
	t.Logf("etcd restarted (API server ready again) in %s", time.Since(begin).Round(time.Millisecond))
	if _, err := admin.MulticlusterV1beta1().ServiceImports(ns).Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Errorf("ServiceImport after etcd restart: %v", err)
	}
	if newEtcd, _ := cp.PIDs(); newEtcd == etcdPID || newEtcd == 0 {
		t.Errorf("etcd pid %d after restart, was %d", newEtcd, etcdPID)
	}

	if etcdRSS, apiRSS, err := cp.RSS(); err == nil {
		t.Logf("RSS at end: etcd %d MiB, kube-apiserver %d MiB", etcdRSS>>20, apiRSS>>20)
	}

	// Stop kills both and removes the temporary work dir.
	e, a := cp.PIDs()
	dir := cp.Dir()
	if err := cp.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	for _, pid := range []int{e, a} {
		if processExists(pid) {
			t.Errorf("pid %d still running after Stop", pid)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("work dir %s not removed: %v", dir, err)
	}
}

func TestDetachedStopFromPIDFile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	cp := start(t, ctx, Options{WorkDir: dir, Detach: true, SkipCRDs: true})

	for _, f := range []string{etcdPIDFile, apiserverPIDFile, stateFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	if _, err := Start(ctx, Options{WorkDir: dir, SkipCRDs: true}); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second Start in the same dir: got %v, want 'already running'", err)
	}

	// Another program attaches through state.json.
	other, err := Attach(dir)
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	if err := other.WaitReady(ctx); err != nil {
		t.Fatalf("attached WaitReady: %v", err)
	}
	if other.Host() != cp.Host() || other.AdminToken() != cp.AdminToken() {
		t.Errorf("attached plane differs: %s vs %s", other.Host(), cp.Host())
	}
	if err := other.Namespace(ctx, "attached"); err != nil {
		t.Errorf("Namespace through attached plane: %v", err)
	}

	e, a := cp.PIDs()
	if err := StopFromPIDFile(dir); err != nil {
		t.Fatalf("StopFromPIDFile: %v", err)
	}
	for _, pid := range []int{e, a} {
		if processExists(pid) {
			t.Errorf("pid %d still running after StopFromPIDFile", pid)
		}
	}
	for _, f := range []string{etcdPIDFile, apiserverPIDFile, stateFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", f, err)
		}
	}
	if err := StopFromPIDFile(dir); err != nil {
		t.Errorf("StopFromPIDFile with nothing running: %v", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("given work dir removed: %v", err)
	}
}

// processExists reports whether pid is alive and not a zombie.
func processExists(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
