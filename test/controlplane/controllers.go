package controlplane

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ControllerManagerControllers are the kube-controller-manager controllers a cluster without
// nodes needs (names from k8s.io/kubernetes cmd/kube-controller-manager/names at v1.35.4):
// EndpointSlices from Pods, the default ServiceAccount of every namespace and tokens for
// accounts, derived objects deleted with their owners (the servicecontroller's derived
// Services), and namespace deletion that finishes.
var ControllerManagerControllers = []string{
	"endpointslice-controller",
	"serviceaccount-controller",
	"serviceaccount-token-controller",
	"garbage-collector-controller",
	"namespace-controller",
	// For clusters with a node (test/node): Deployments and their ReplicaSets make the pods
	// (CoreDNS from deploy/), every namespace gets the kube-root-ca.crt ConfigMap that
	// projected ServiceAccount tokens mount, and the node lifecycle controller lifts the
	// node.kubernetes.io/not-ready taint a kubelet registers its Node with, once it is Ready.
	// StatefulSets: the pods with hostname and subdomain behind a headless Service (the MCS
	// conformance suite's per-endpoint DNS spec runs one).
	"deployment-controller",
	"replicaset-controller",
	"statefulset-controller",
	"root-ca-certificate-publisher-controller",
	"node-lifecycle-controller",
}

const (
	kcmName          = "kube-controller-manager"
	mcsName          = "mcs-servicecontroller"
	controllerConfig = "controllers.kubeconfig"
)

// controllerBinaries are the binaries of the controllers Options asks for ("" when not).
type controllerBinaries struct{ kcm, mcs string }

// findControllerBinaries resolves them as documented on Options; like kube-apiserver they are
// never looked up on PATH, where one of another version would be used silently.
func findControllerBinaries(o Options) (controllerBinaries, error) {
	var b controllerBinaries
	binDir := o.BinDir
	if binDir == "" {
		if root, err := RepoRoot(); err == nil {
			binDir = filepath.Join(root, ".cache", "bin")
		}
	}
	find := func(explicit, envVar, name string) (string, error) {
		candidate := explicit
		if candidate == "" {
			candidate = os.Getenv(envVar)
		}
		if candidate == "" && binDir != "" {
			candidate = filepath.Join(binDir, name)
		}
		if bin := executable([]string{candidate}); bin != "" {
			return bin, nil
		}
		return "", fmt.Errorf("%w: %s (looked at %q)", ErrBinaryNotFound, name, candidate)
	}
	var err error
	if o.ControllerManager {
		if b.kcm, err = find(o.KubeControllerManager, "MCS_KUBE_CONTROLLER_MANAGER_BIN", kcmName); err != nil {
			return b, err
		}
	}
	if o.MCSController {
		if b.mcs, err = find(o.MCSControllerBin, "MCS_SERVICECONTROLLER_BIN", mcsName); err != nil {
			return b, err
		}
	}
	return b, nil
}

// startControllers starts the controllers of bins with the administrator's credentials (a
// kubeconfig in the work directory) and waits until kube-controller-manager works.
func (c *ControlPlane) startControllers(ctx context.Context, bins controllerBinaries, detach bool) error {
	if bins.kcm == "" && bins.mcs == "" {
		return nil
	}
	kubeconfig := c.path(controllerConfig)
	if err := c.WriteKubeconfig(kubeconfig, Admin); err != nil {
		return err
	}
	if bins.kcm != "" {
		p := c.newControllerProcess(kcmName, bins.kcm, c.kcmArgs(kubeconfig), detach)
		if err := p.start(); err != nil {
			return err
		}
		c.saveState()
		if err := c.waitControllerManager(ctx, p); err != nil {
			return err
		}
	}
	if bins.mcs != "" {
		// --metrics-addr=0: controller-runtime's metrics listener (default :8080, every
		// interface) stays off. The servicecontroller serves no webhook and elects no leader.
		p := c.newControllerProcess(mcsName, bins.mcs, []string{"--kubeconfig=" + kubeconfig, "--metrics-addr=0"}, detach)
		if err := p.start(); err != nil {
			return err
		}
		c.saveState()
	}
	return nil
}

func (c *ControlPlane) newControllerProcess(name, bin string, args []string, detach bool) *process {
	p := &process{name: name, bin: bin, args: args, logPath: c.path(name + ".log"), pidPath: c.path(name + ".pid"), detach: detach}
	c.controllers = append(c.controllers, p)
	return p
}

// kcmArgs is kube-controller-manager's command line. --secure-port=0: no listener at all
// (its default serves on every interface), which also skips delegated authentication;
// --leader-elect=false: it is the only one. The service-account key and the CA let the
// token controller mint the tokens of token Secrets, as in a kubeadm cluster.
func (c *ControlPlane) kcmArgs(kubeconfig string) []string {
	return []string{
		"--kubeconfig=" + kubeconfig,
		"--controllers=" + strings.Join(ControllerManagerControllers, ","),
		"--leader-elect=false",
		"--secure-port=0",
		"--service-account-private-key-file=" + c.path("pki", "sa.key"),
		"--root-ca-file=" + c.path("pki", "ca.crt"),
		"--profiling=false",
	}
}

// waitControllerManager waits until the serviceaccount controller has created the default
// namespace's ServiceAccount: its controllers run and Pods can be admitted.
func (c *ControlPlane) waitControllerManager(ctx context.Context, p *process) error {
	cs, err := kubernetes.NewForConfig(c.AdminConfig())
	if err != nil {
		return err
	}
	return c.poll(ctx, p, func() (bool, string) {
		_, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, "no ServiceAccount default/default yet"
		}
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
}

// ControllerLogs returns the log paths of the controllers that run, by name
// (kube-controller-manager, mcs-servicecontroller).
func (c *ControlPlane) ControllerLogs() map[string]string {
	logs := map[string]string{}
	for _, p := range c.controllers {
		logs[p.name] = p.logPath
	}
	return logs
}

// ControllerPIDs returns the process IDs of the controllers that run, by name (0 when stopped).
func (c *ControlPlane) ControllerPIDs() map[string]int {
	pids := map[string]int{}
	for _, p := range c.controllers {
		pids[p.name] = p.getPID()
	}
	return pids
}
