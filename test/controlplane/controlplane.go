// Package controlplane runs a real, minimal Kubernetes control plane (etcd and kube-apiserver, no
// scheduler, no kubelet) on the loopback interface, for end-to-end tests, the demo and the
// benchmarks; on request also kube-controller-manager (the controllers a node-less cluster
// needs) and the mcs-api servicecontroller (see Options.ControllerManager, Options.MCSController).
//
// The binaries come from hack/ensure-tools.sh: kube-apiserver, kube-controller-manager and the
// servicecontroller are built into .cache/bin, etcd is Debian's etcd-server (or built into
// .cache/bin when apt is unavailable).
//
// Without the controller-manager, nothing creates EndpointSlices or ServiceAccounts, namespace
// deletion never finishes and nothing is garbage-collected: create what a test needs itself and
// use a fresh namespace per test case.
package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ServiceClusterIPRange is the API server's --service-cluster-ip-range unless
// Options.ServiceCIDRs says otherwise.
const ServiceClusterIPRange = "10.96.0.0/16"

// Options configure Start. The zero value is a valid configuration.
type Options struct {
	// KubeAPIServer is the kube-apiserver binary. Default: $MCS_KUBE_APISERVER_BIN, else
	// BinDir/kube-apiserver.
	KubeAPIServer string
	// Etcd is the etcd binary. Default: $MCS_ETCD_BIN, else BinDir/etcd, else etcd on PATH.
	Etcd string
	// BinDir is where built binaries live. Default: <repo root>/.cache/bin.
	BinDir string

	// WorkDir holds certificates, the token file, etcd's data, logs, PID files and state.json.
	// Default: a new temporary directory, removed by Stop. A given directory is kept, but its
	// etcd data is wiped on Start: every Start is a fresh cluster.
	WorkDir string
	// KeepWorkDir keeps a temporary WorkDir after Stop (to read the logs).
	KeepWorkDir bool

	// SkipCRDs leaves the MCS CRDs uninstalled; by default Start installs them.
	SkipCRDs bool
	// CRDs is the variant Start installs (default BothVersions).
	CRDs CRDVariant

	// Detach starts the processes in their own session so they outlive this program (for the
	// demo). Stop them with StopFromPIDFile(WorkDir). Without Detach they are killed when this
	// program dies.
	Detach bool

	// ReadyTimeout bounds every wait for readiness. Default 60s.
	ReadyTimeout time.Duration

	// ExtraAPIServerArgs are appended to kube-apiserver's command line.
	ExtraAPIServerArgs []string

	// ServiceCIDRs are the API server's service CIDRs (--service-cluster-ip-range): one, or
	// one of each family for a dual-stack cluster, the primary family first. Default
	// [ServiceClusterIPRange].
	ServiceCIDRs []string

	// ControllerManager also starts kube-controller-manager with ControllerManagerControllers
	// and enables the ServiceAccount admission plugin (its controller creates the accounts
	// that plugin requires). Start returns once the serviceaccount controller has created
	// the default namespace's ServiceAccount.
	ControllerManager bool
	// KubeControllerManager is its binary. Default: $MCS_KUBE_CONTROLLER_MANAGER_BIN, else
	// BinDir/kube-controller-manager.
	KubeControllerManager string

	// MCSController also starts the mcs-api reference servicecontroller, which creates the
	// derived Service of each ClusterSetIP ServiceImport and copies its ClusterIPs into the
	// import's spec.ips. It needs the MCS CRDs.
	MCSController bool
	// MCSControllerBin is its binary. Default: $MCS_SERVICECONTROLLER_BIN, else
	// BinDir/mcs-servicecontroller.
	MCSControllerBin string
}

// ControlPlane is a running etcd plus kube-apiserver.
type ControlPlane struct {
	dir        string
	ownDir     bool
	keepDir    bool
	timeout    time.Duration
	securePort int
	etcdClient int
	etcdPeer   int

	adminToken   string
	corednsToken string
	caPEM        []byte

	serviceCIDRs []string

	etcd      *process
	apiserver *process
	// controllers are kube-controller-manager and the servicecontroller, when asked for.
	controllers []*process

	stateMu sync.Mutex
}

// Start starts etcd and kube-apiserver, waits until the API server is ready and, unless
// opts.SkipCRDs, installs the MCS CRDs. On error nothing is left running.
func Start(ctx context.Context, opts Options) (*ControlPlane, error) {
	apiserverBin, etcdBin, err := findBinaries(opts)
	if err != nil {
		return nil, err
	}
	controllerBins, err := findControllerBinaries(opts)
	if err != nil {
		return nil, err
	}
	if opts.MCSController && opts.SkipCRDs {
		return nil, errors.New("the mcs-api servicecontroller needs the MCS CRDs: MCSController and SkipCRDs exclude each other")
	}
	cidrs, err := serviceCIDRs(opts.ServiceCIDRs)
	if err != nil {
		return nil, err
	}

	c := &ControlPlane{timeout: opts.ReadyTimeout, keepDir: opts.KeepWorkDir, serviceCIDRs: cidrs}
	if c.timeout <= 0 {
		c.timeout = 60 * time.Second
	}
	if opts.WorkDir == "" {
		if c.dir, err = os.MkdirTemp("", "mcs-controlplane-"); err != nil {
			return nil, err
		}
		c.ownDir = true
	} else {
		if c.dir, err = filepath.Abs(opts.WorkDir); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(c.dir, 0o755); err != nil {
			return nil, err
		}
		if running, err := Attach(c.dir); err == nil && running.anyRunning() {
			return nil, fmt.Errorf("a control plane is already running in %s (etcd pid %d, kube-apiserver pid %d): stop it with StopFromPIDFile",
				c.dir, running.etcd.getPID(), running.apiserver.getPID())
		}
	}

	ok := false
	defer func() {
		if !ok {
			_ = c.Stop()
		}
	}()

	if err := c.writeCredentials(); err != nil {
		return nil, err
	}
	c.etcd = &process{name: "etcd", bin: etcdBin, logPath: c.path(etcdLogFile), pidPath: c.path(etcdPIDFile), detach: opts.Detach}
	c.apiserver = &process{name: "kube-apiserver", bin: apiserverBin, logPath: c.path(apiserverLogFile), pidPath: c.path(apiserverPIDFile), detach: opts.Detach}

	// Free ports are found by binding and releasing them, so another process can take one
	// before etcd or kube-apiserver does: retry with new ports when that happens.
	for attempt := 1; ; attempt++ {
		if err := os.RemoveAll(c.path("etcd-data")); err != nil {
			return nil, err
		}
		ports, err := freePorts(3)
		if err != nil {
			return nil, err
		}
		c.etcdClient, c.etcdPeer, c.securePort = ports[0], ports[1], ports[2]
		c.etcd.args = c.etcdArgs()
		c.apiserver.args = append(c.apiserverArgs(opts.ControllerManager), opts.ExtraAPIServerArgs...)

		err = c.StartEtcd(ctx)
		if err == nil {
			err = c.StartAPIServer(ctx)
		}
		if err == nil {
			break
		}
		_ = c.apiserver.stop()
		_ = c.etcd.stop()
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			return nil, err
		}
	}

	if !opts.SkipCRDs {
		if err := c.InstallCRDs(ctx, opts.CRDs); err != nil {
			return nil, err
		}
	}
	if err := c.startControllers(ctx, controllerBins, opts.Detach); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

// writeCredentials generates and writes the PKI and the static token file.
func (c *ControlPlane) writeCredentials() error {
	p, err := generatePKI(firstServiceIPs(c.serviceCIDRs))
	if err != nil {
		return err
	}
	if err := p.write(c.path("pki")); err != nil {
		return err
	}
	c.caPEM = p.caCert
	c.adminToken, c.corednsToken = newToken(), newToken()
	return os.WriteFile(c.path("tokens.csv"), tokenFile(c.adminToken, c.corednsToken), 0o600)
}

func (c *ControlPlane) etcdArgs() []string {
	client := "http://127.0.0.1:" + strconv.Itoa(c.etcdClient)
	peer := "http://127.0.0.1:" + strconv.Itoa(c.etcdPeer)
	return []string{
		"--name=mcs-test",
		"--data-dir=" + c.path("etcd-data"),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=mcs-test=" + peer,
		"--initial-cluster-state=new",
		"--logger=zap",
		"--log-level=warn",
		// The benchmark's largest ClusterSets (hundreds of thousands of objects) need
		// more than etcd's default 2 GiB backend quota.
		"--quota-backend-bytes=8589934592",
	}
}

// apiserverArgs is kube-apiserver's command line; withServiceAccounts keeps the
// ServiceAccount admission plugin on (a controller-manager creates the accounts it requires).
func (c *ControlPlane) apiserverArgs(withServiceAccounts bool) []string {
	pki := c.path("pki")
	args := []string{
		"--etcd-servers=" + c.EtcdEndpoint(),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.securePort),
		"--cert-dir=" + pki,
		"--tls-cert-file=" + filepath.Join(pki, "apiserver.crt"),
		"--tls-private-key-file=" + filepath.Join(pki, "apiserver.key"),
		"--client-ca-file=" + filepath.Join(pki, "ca.crt"),
		"--token-auth-file=" + c.path("tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + filepath.Join(pki, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(pki, "sa.key"),
		"--service-cluster-ip-range=" + strings.Join(c.serviceCIDRs, ","),
		// No kubelet and no kube-proxy: the kubernetes Service's endpoints would name an
		// address nothing routes.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
	}
	if !withServiceAccounts {
		// No controller-manager: nothing creates the default ServiceAccount the admission
		// plugin requires of Pods.
		args = append(args, "--disable-admission-plugins=ServiceAccount")
	}
	return args
}

// StartEtcd starts etcd (same ports, same data as before) and waits until it is healthy and,
// if kube-apiserver is running, until the API server is ready again.
func (c *ControlPlane) StartEtcd(ctx context.Context) error {
	if err := c.etcd.start(); err != nil {
		return err
	}
	c.saveState()
	if err := c.waitEtcd(ctx); err != nil {
		return err
	}
	if gone, _ := c.apiserver.exited(); !gone {
		return c.WaitReady(ctx)
	}
	return nil
}

// StopEtcd stops etcd (SIGTERM, then SIGKILL). Its data is kept.
func (c *ControlPlane) StopEtcd() error {
	err := c.etcd.stop()
	c.saveState()
	return err
}

// RestartEtcd stops and starts etcd on the same ports with the same data, and waits until the
// API server is ready again.
func (c *ControlPlane) RestartEtcd(ctx context.Context) error {
	if err := c.StopEtcd(); err != nil {
		return err
	}
	return c.StartEtcd(ctx)
}

// StartAPIServer starts kube-apiserver (same port, same flags as before) and waits for /readyz.
func (c *ControlPlane) StartAPIServer(ctx context.Context) error {
	if err := c.apiserver.start(); err != nil {
		return err
	}
	c.saveState()
	return c.WaitReady(ctx)
}

// StopAPIServer stops kube-apiserver (SIGTERM, then SIGKILL).
func (c *ControlPlane) StopAPIServer() error {
	err := c.apiserver.stop()
	c.saveState()
	return err
}

// RestartAPIServer stops and starts kube-apiserver on the same port and waits for /readyz.
func (c *ControlPlane) RestartAPIServer(ctx context.Context) error {
	if err := c.StopAPIServer(); err != nil {
		return err
	}
	return c.StartAPIServer(ctx)
}

// Stop stops the controllers, kube-apiserver, then etcd, and removes the work directory if
// Start created it. It is safe to call more than once.
func (c *ControlPlane) Stop() error {
	var errs []error
	for _, p := range c.controllers {
		errs = append(errs, p.stop())
	}
	if c.apiserver != nil {
		errs = append(errs, c.apiserver.stop())
	}
	if c.etcd != nil {
		errs = append(errs, c.etcd.stop())
	}
	_ = os.Remove(c.path(stateFile))
	if c.ownDir && !c.keepDir {
		errs = append(errs, os.RemoveAll(c.dir))
	}
	return errors.Join(errs...)
}

// Dir is the work directory (certificates, tokens, logs, PID files, state.json).
func (c *ControlPlane) Dir() string { return c.dir }

// Host is the API server's URL, https://127.0.0.1:PORT.
func (c *ControlPlane) Host() string { return "https://127.0.0.1:" + strconv.Itoa(c.securePort) }

// SecurePort is the API server's port on 127.0.0.1.
func (c *ControlPlane) SecurePort() int { return c.securePort }

// EtcdEndpoint is etcd's client URL, http://127.0.0.1:PORT.
func (c *ControlPlane) EtcdEndpoint() string {
	return "http://127.0.0.1:" + strconv.Itoa(c.etcdClient)
}

// CACert is the PEM-encoded CA that signed the API server's serving certificate.
func (c *ControlPlane) CACert() []byte { return c.caPEM }

// CAFile is the path of CACert on disk.
func (c *ControlPlane) CAFile() string { return c.path("pki", "ca.crt") }

// APIServerLog is the path of kube-apiserver's log (appended to across restarts).
func (c *ControlPlane) APIServerLog() string { return c.apiserver.logPath }

// EtcdLog is the path of etcd's log.
func (c *ControlPlane) EtcdLog() string { return c.etcd.logPath }

// PIDs returns the process IDs of etcd and kube-apiserver (0 when stopped).
func (c *ControlPlane) PIDs() (etcd, apiserver int) {
	return c.etcd.getPID(), c.apiserver.getPID()
}

// RSS returns the resident set sizes in bytes of etcd and kube-apiserver.
func (c *ControlPlane) RSS() (etcd, apiserver int64, err error) {
	e, err1 := rssBytes(c.etcd.getPID())
	a, err2 := rssBytes(c.apiserver.getPID())
	return e, a, errors.Join(err1, err2)
}

func (c *ControlPlane) path(elem ...string) string {
	return filepath.Join(append([]string{c.dir}, elem...)...)
}

// freePorts returns n distinct TCP ports that were free on 127.0.0.1 a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
