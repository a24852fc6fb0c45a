package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	mcsclient "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned"

	"github.com/mcs-dns/multicluster/test/clusterset"
	"github.com/mcs-dns/multicluster/test/clusterset/exporter"
	"github.com/mcs-dns/multicluster/test/controlplane"
	"github.com/mcs-dns/multicluster/test/internal/harness"
	"github.com/mcs-dns/multicluster/test/node"
)

// podCluster is one cluster with a real node: kube-apiserver, kube-controller-manager,
// kube-scheduler, the mcs-api servicecontroller, and a kubelet with containerd and kube-proxy;
// CoreDNS runs in it from deploy/, as an admin runs it.
type podCluster struct {
	spec   podClusterSpec
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

// podClusterSpec is one cluster's addresses: kubeadm's defaults where they exist (service
// range, kube-dns at .10), distinct per cluster so that an answer tells which one it came from.
type podClusterSpec struct {
	id          string // the cluster id: the exporter's source-cluster label
	serviceCIDR string
	clusterDNS  string
	// upstreamDNS is what CoreDNS's `forward . /etc/resolv.conf` gets: an unused service
	// address, which the node drops, so nothing leaves the machine.
	upstreamDNS string
	clusterCIDR string
	nodeCIDR    string
	nodeIP      string
	nodeName    string
	zone        string
	// netns and hostIP put the node in a network namespace of its own (node.Options.NetNS):
	// the second cluster's node, whose kube-proxy would otherwise clash with the first's.
	netns, hostIP string
}

var (
	eastPods = podClusterSpec{id: "east", serviceCIDR: "10.96.0.0/16", clusterDNS: "10.96.0.10", upstreamDNS: "10.96.0.2",
		clusterCIDR: "10.244.0.0/16", nodeCIDR: "10.244.1.0/24", nodeIP: "172.30.1.1/24", nodeName: "east-node-1", zone: "east-a"}
	westPods = podClusterSpec{id: "west", serviceCIDR: "10.97.0.0/16", clusterDNS: "10.97.0.10", upstreamDNS: "10.97.0.2",
		clusterCIDR: "10.245.0.0/16", nodeCIDR: "10.245.1.0/24", nodeIP: "172.30.2.2/24", nodeName: "west-node-1", zone: "west-a",
		netns: "mcs-e2e-west", hostIP: "172.30.2.1/24"}
)

const corednsImage = "localhost/coredns-multicluster:e2e"

// startPodCluster starts it all, or skips t where this machine cannot run a kubelet at all
// (not root, no bridges or netfilter) and MCS_E2E_REQUIRED is unset.
func startPodCluster(t *testing.T, ctx context.Context, spec podClusterSpec) *podCluster {
	t.Helper()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	pc := &podCluster{spec: spec, root: root, binDir: filepath.Join(root, ".cache", "bin")}
	if err := node.Preflight(pc.binDir); err != nil {
		if required() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if pc.dir, err = os.MkdirTemp("", "mcs-e2e-pods-"+spec.id+"-"); err != nil {
		t.Fatal(err)
	}
	// The API server's address for pods and the kubelet: the node's own, or the host's end of
	// the veth pair into a node's namespace.
	advertise := mustPrefix(spec.nodeIP).Addr()
	if spec.netns != "" {
		advertise = mustPrefix(spec.hostIP).Addr()
	}
	apiArgs, err := node.APIServerArgs(filepath.Join(pc.dir, "node"), advertise)
	if err != nil {
		t.Fatal(err)
	}
	pc.cp, err = controlplane.Start(ctx, controlplane.Options{
		ControllerManager: true, MCSController: true,
		ServiceCIDRs: []string{spec.serviceCIDR}, ExtraAPIServerArgs: apiArgs,
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
			t.Logf("logs of cluster %s kept in %s", spec.id, pc.dir)
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

	opts := node.Options{
		Name: spec.nodeName, Dir: filepath.Join(pc.dir, "node"), Kubeconfig: kubeconfig, BinDir: pc.binDir,
		NodeIP: mustPrefix(spec.nodeIP), PodCIDR: mustPrefix(spec.nodeCIDR), ClusterPodCIDR: mustPrefix(spec.clusterCIDR),
		ServiceCIDR: mustPrefix(spec.serviceCIDR), ClusterDNS: mustAddr(spec.clusterDNS), UpstreamDNS: mustAddr(spec.upstreamDNS),
		Zone: spec.zone, APIServerPort: pc.cp.SecurePort(), NetNS: spec.netns,
	}
	if spec.hostIP != "" {
		opts.HostIP = mustPrefix(spec.hostIP)
	}
	pc.node, err = node.Start(ctx, pc.kube, opts)
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
	bin, err := harness.CoreDNSBinary()
	if err != nil {
		return err
	}
	return pc.node.ImportImages(ctx, pc.dir, bin, corednsImage)
}

// applyDeploy applies deploy/ to the cluster as an admin would (harness.ApplyDeploy).
func (pc *podCluster) applyDeploy(ctx context.Context) error {
	return harness.ApplyDeploy(ctx, pc.kube, pc.dyn, pc.root, corednsImage, pc.spec.clusterDNS)
}

func (pc *podCluster) waitRollout(ctx context.Context, ns, name string, timeout time.Duration) error {
	return harness.WaitRollout(ctx, pc.kube, ns, name, timeout)
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
			if p.Status.Phase == corev1.PodRunning && clusterset.PodReady(p) {
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

// runExporter runs the ClusterSet's agent over the clusters until the test ends.
func runExporter(t *testing.T, clusters ...*podCluster) {
	var members []exporter.Cluster
	for _, pc := range clusters {
		members = append(members, exporter.Cluster{Name: pc.spec.id, Kube: pc.kube, MCS: pc.mcs})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- exporter.Run(ctx, members, func(f string, a ...any) { t.Logf("exporter: "+f, a...) })
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
