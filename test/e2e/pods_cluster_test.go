package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	mcsclient "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned"

	"github.com/mcs-dns/multicluster/test/clusterset/exporter"
	"github.com/mcs-dns/multicluster/test/controlplane"
	"github.com/mcs-dns/multicluster/test/image"
	"github.com/mcs-dns/multicluster/test/internal/harness"
	"github.com/mcs-dns/multicluster/test/node"
)

// podCluster is one cluster with a real node: kube-apiserver, kube-controller-manager,
// kube-scheduler, the mcs-api servicecontroller, the exporter, and a kubelet with containerd
// and kube-proxy; CoreDNS runs in it from deploy/, as an admin runs it.
type podCluster struct {
	cp     *controlplane.ControlPlane
	cfg    *rest.Config
	kube   kubernetes.Interface
	mcs    mcsclient.Interface
	dyn    dynamic.Interface
	node   *node.Node
	dir    string
	root   string
	binDir string
}

// The cluster's addresses, as kubeadm's defaults have them where they exist (service range,
// kube-dns at .10); the node's address is on a bridge of its own.
const (
	podServiceCIDR = "10.96.0.0/16"
	podClusterDNS  = "10.96.0.10"
	// podUpstreamDNS is what CoreDNS's `forward . /etc/resolv.conf` gets: an unused service
	// address, which the host drops, so nothing leaves the machine.
	podUpstreamDNS = "10.96.0.2"
	podClusterCIDR = "10.244.0.0/16"
	podNodeCIDR    = "10.244.1.0/24"
	podNodeIP      = "172.30.1.1/24"
	podNodeName    = "east-node-1"
	podClusterID   = "east"
	corednsImage   = "localhost/coredns-multicluster:e2e"
)

// startPodCluster starts it all, or skips t where this machine cannot run a kubelet at all
// (not root, no bridges or netfilter) and MCS_E2E_REQUIRED is unset.
func startPodCluster(t *testing.T, ctx context.Context) *podCluster {
	t.Helper()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	pc := &podCluster{root: root, binDir: filepath.Join(root, ".cache", "bin")}
	if err := node.Preflight(pc.binDir); err != nil {
		if required() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if pc.dir, err = os.MkdirTemp("", "mcs-e2e-pods-"); err != nil {
		t.Fatal(err)
	}
	apiArgs, err := node.APIServerArgs(filepath.Join(pc.dir, "node"), mustPrefix(podNodeIP).Addr())
	if err != nil {
		t.Fatal(err)
	}
	pc.cp, err = controlplane.Start(ctx, controlplane.Options{
		ControllerManager: true, MCSController: true,
		ServiceCIDRs: []string{podServiceCIDR}, ExtraAPIServerArgs: apiArgs,
		WorkDir: filepath.Join(pc.dir, "controlplane"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pc.cp.Stop(); err != nil {
			t.Log(err)
		}
		if !t.Failed() {
			_ = os.RemoveAll(pc.dir)
		} else {
			t.Logf("logs kept in %s", pc.dir)
		}
	})
	pc.cfg = pc.cp.AdminConfig()
	if pc.kube, err = kubernetes.NewForConfig(pc.cfg); err != nil {
		t.Fatal(err)
	}
	if pc.mcs, err = mcsclient.NewForConfig(pc.cfg); err != nil {
		t.Fatal(err)
	}
	if pc.dyn, err = dynamic.NewForConfig(pc.cfg); err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(pc.dir, "admin.kubeconfig")
	if err := pc.cp.WriteKubeconfig(kubeconfig, controlplane.Admin); err != nil {
		t.Fatal(err)
	}
	sched, err := node.StartScheduler(pc.binDir, kubeconfig, filepath.Join(pc.dir, "kube-scheduler.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sched.Stop() })

	pc.node, err = node.Start(ctx, pc.kube, node.Options{
		Name: podNodeName, Dir: filepath.Join(pc.dir, "node"), Kubeconfig: kubeconfig, BinDir: pc.binDir,
		NodeIP: mustPrefix(podNodeIP), PodCIDR: mustPrefix(podNodeCIDR), ClusterPodCIDR: mustPrefix(podClusterCIDR),
		ServiceCIDR: mustPrefix(podServiceCIDR), ClusterDNS: mustAddr(podClusterDNS), UpstreamDNS: mustAddr(podUpstreamDNS),
		Zone: "east-a", APIServerPort: pc.cp.SecurePort(),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Registered after the control plane's: runs before it, while the API server can still
	// tell the kubelet to take the pods down.
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(pc.node.Logs(30))
		}
		if err := pc.node.Stop(context.Background()); err != nil {
			t.Log(err)
		}
	})
	if err := pc.importImages(ctx); err != nil {
		t.Fatal(err)
	}
	return pc
}

// importImages puts the test pods' images and `make image`'s CoreDNS image into the node's
// containerd: there is no registry to pull from.
func (pc *podCluster) importImages(ctx context.Context) error {
	archives, err := node.WriteImages(pc.dir)
	if err != nil {
		return err
	}
	bin, err := harness.CoreDNSBinary()
	if err != nil {
		return err
	}
	archive := filepath.Join(pc.dir, "coredns-multicluster.oci.tar")
	if _, err := image.Build(image.Options{Binary: bin, Output: archive, Name: corednsImage, Arch: runtime.GOARCH}); err != nil {
		return err
	}
	for _, a := range append(archives, archive) {
		if err := pc.node.ImportImage(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

// applyDeploy applies deploy/*.yaml as the README tells an admin of a cluster without a
// CoreDNS (`kubectl apply --server-side -f deploy/`), with the image set to the one imported
// (`kubectl set image`), and the multicluster stanza given this cluster's id.
func (pc *podCluster) applyDeploy(ctx context.Context) error {
	ms, err := harness.LoadManifests(pc.root)
	if err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(pc.kube.Discovery()))
	for _, m := range ms {
		obj := m.Obj.DeepCopy()
		if obj.GetKind() == "Deployment" {
			if err := setImage(obj, "coredns", corednsImage); err != nil {
				return err
			}
		}
		gvk := obj.GroupVersionKind()
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("deploy/%s %s: %w", m.File, gvk.Kind, err)
		}
		data, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		force := true
		_, err = pc.dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace()).Patch(ctx, obj.GetName(), types.ApplyPatchType, data,
			metav1.PatchOptions{FieldManager: "kubectl", Force: &force})
		if err != nil {
			return fmt.Errorf("applying deploy/%s %s %s: %w", m.File, gvk.Kind, obj.GetName(), err)
		}
	}
	return nil
}

func setImage(deploy *unstructured.Unstructured, container, image string) error {
	cs, _, err := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")
	if err != nil {
		return err
	}
	for i, c := range cs {
		if m, ok := c.(map[string]any); ok && m["name"] == container {
			m["image"] = image
			cs[i] = m
			return unstructured.SetNestedSlice(deploy.Object, cs, "spec", "template", "spec", "containers")
		}
	}
	return fmt.Errorf("deploy/ Deployment %s has no container %q", deploy.GetName(), container)
}

// waitRollout waits until every replica of the Deployment runs its latest template and is
// available, and no pod of an older one is left.
func (pc *podCluster) waitRollout(ctx context.Context, ns, name string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last string
	for {
		d, err := pc.kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			last = rolloutState(d)
			if d.Status.ObservedGeneration >= d.Generation && d.Spec.Replicas != nil &&
				d.Status.UpdatedReplicas == *d.Spec.Replicas && d.Status.Replicas == *d.Spec.Replicas &&
				d.Status.AvailableReplicas == *d.Spec.Replicas {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("deployment %s/%s not rolled out within %s: %s", ns, name, timeout, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func rolloutState(d *appsv1.Deployment) string {
	return fmt.Sprintf("generation %d observed %d, replicas %d updated %d available %d", d.Generation,
		d.Status.ObservedGeneration, d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.AvailableReplicas)
}

// waitPodRunning waits until the pod runs with every container ready, and returns it.
func (pc *podCluster) waitPodRunning(ctx context.Context, ns, name string, timeout time.Duration) (*corev1.Pod, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := "not found"
	for {
		p, err := pc.kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			last = string(p.Status.Phase)
			for _, c := range p.Status.ContainerStatuses {
				if w := c.State.Waiting; w != nil {
					last += fmt.Sprintf(", %s waiting: %s %s", c.Name, w.Reason, w.Message)
				}
			}
			if p.Status.Phase == corev1.PodRunning && podReady(p) {
				return p, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("pod %s/%s not running within %s: %s", ns, name, timeout, last)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// exec runs a command in a pod's only container through the API server and the kubelet.
func (pc *podCluster) exec(ctx context.Context, ns, pod string, cmd ...string) (string, error) {
	out, _, err := node.Exec(ctx, pc.cfg, pc.kube, ns, pod, "", cmd...)
	return out, err
}

// runExporter runs the ClusterSet's agent for this one cluster until the test ends.
func (pc *podCluster) runExporter(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- exporter.Run(ctx, []exporter.Cluster{{Name: podClusterID, Kube: pc.kube, MCS: pc.mcs}}, func(f string, a ...any) { t.Logf("exporter: "+f, a...) })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("exporter: %v", err)
		}
	})
}

// corednsPods returns the running pods of the coredns Deployment.
func (pc *podCluster) corednsPods(ctx context.Context) ([]corev1.Pod, error) {
	l, err := pc.kube.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "k8s-app=kube-dns"})
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range l.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// dnsRequests sums coredns_dns_requests_total over the coredns pods, read from their metrics
// port on the pod network (the host routes the node's pod range to its bridge).
func (pc *podCluster) dnsRequests(ctx context.Context) (float64, error) {
	pods, err := pc.corednsPods(ctx)
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, p := range pods {
		code, body, err := httpGet(fmt.Sprintf("http://%s:9153/metrics", p.Status.PodIP))
		if err != nil || code != 200 {
			return 0, fmt.Errorf("metrics of %s: %d %v", p.Name, code, err)
		}
		for series, v := range parseMetrics(body) {
			if strings.HasPrefix(series, "coredns_dns_requests_total{") {
				sum += v
			}
		}
	}
	return sum, nil
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
