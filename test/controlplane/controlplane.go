// Package controlplane runs a real, minimal Kubernetes control plane (etcd and kube-apiserver, no
// controller-manager, no scheduler, no kubelet) on the loopback interface, for end-to-end tests,
// the demo and the benchmarks.
//
// The binaries come from hack/ensure-tools.sh: kube-apiserver is built into .cache/bin, etcd is
// Debian's etcd-server (or built into .cache/bin when apt is unavailable).
//
// Because no controller-manager runs, nothing creates EndpointSlices or ServiceAccount tokens,
// namespace deletion never finishes and nothing is garbage-collected: create what a test needs
// itself and use a fresh namespace per test case.
package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// ModulePath is the root module's path; RepoRoot looks for its go.mod.
const ModulePath = "github.com/mcs-dns/multicluster"

// Identities in the static token file.
const (
	// AdminUserName is the cluster administrator (group system:masters).
	AdminUserName = "admin"
	// CoreDNSUserName is the identity CoreDNS runs as: what the coredns ServiceAccount in
	// kube-system would be. RBAC subjects of kind ServiceAccount (kube-system/coredns) match it,
	// as do subjects of kind User with this name.
	CoreDNSUserName = "system:serviceaccount:kube-system:coredns"
)

// Groups of the two identities.
var (
	AdminGroups   = []string{"system:masters", "system:authenticated"}
	CoreDNSGroups = []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"}
)

// ServiceClusterIPRange is the API server's --service-cluster-ip-range.
const ServiceClusterIPRange = "10.96.0.0/16"

// ErrBinaryNotFound is returned (wrapped) by Start when etcd or kube-apiserver cannot be found.
var ErrBinaryNotFound = errors.New("control plane binary not found (run hack/ensure-tools.sh)")

// User selects one of the two identities of the control plane.
type User string

// The identities, for WriteKubeconfig and Config.
const (
	Admin   User = "admin"
	CoreDNS User = "coredns"
)

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

	etcd      *process
	apiserver *process

	stateMu sync.Mutex
}

// state is what state.json records, so another program can attach to or stop a detached plane.
type state struct {
	Dir            string   `json:"dir"`
	EtcdBin        string   `json:"etcdBin"`
	EtcdArgs       []string `json:"etcdArgs"`
	EtcdPID        int      `json:"etcdPID"`
	APIServerBin   string   `json:"apiserverBin"`
	APIServerArgs  []string `json:"apiserverArgs"`
	APIServerPID   int      `json:"apiserverPID"`
	EtcdClientPort int      `json:"etcdClientPort"`
	EtcdPeerPort   int      `json:"etcdPeerPort"`
	SecurePort     int      `json:"securePort"`
	AdminToken     string   `json:"adminToken"`
	CoreDNSToken   string   `json:"corednsToken"`
}

const (
	stateFile        = "state.json"
	etcdPIDFile      = "etcd.pid"
	apiserverPIDFile = "kube-apiserver.pid"
	etcdLogFile      = "etcd.log"
	apiserverLogFile = "kube-apiserver.log"
)

// Start starts etcd and kube-apiserver, waits until the API server is ready and, unless
// opts.SkipCRDs, installs the MCS CRDs. On error nothing is left running.
func Start(ctx context.Context, opts Options) (*ControlPlane, error) {
	apiserverBin, etcdBin, err := findBinaries(opts)
	if err != nil {
		return nil, err
	}

	c := &ControlPlane{timeout: opts.ReadyTimeout, keepDir: opts.KeepWorkDir}
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
		c.apiserver.args = append(c.apiserverArgs(), opts.ExtraAPIServerArgs...)

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
	ok = true
	return c, nil
}

// writeCredentials generates and writes the PKI and the static token file.
func (c *ControlPlane) writeCredentials() error {
	p, err := generatePKI()
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
	}
}

func (c *ControlPlane) apiserverArgs() []string {
	pki := c.path("pki")
	return []string{
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
		"--service-cluster-ip-range=" + ServiceClusterIPRange,
		// No controller-manager: nothing would maintain the kubernetes Service's endpoints,
		// and nothing creates the default ServiceAccount the admission plugin requires of Pods.
		"--endpoint-reconciler-type=none",
		"--disable-admission-plugins=ServiceAccount",
		"--profiling=false",
	}
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

// Stop stops kube-apiserver, then etcd, and removes the work directory if Start created it.
// It is safe to call more than once.
func (c *ControlPlane) Stop() error {
	var errs []error
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

// WaitReady waits until kube-apiserver answers /readyz with 200, at most ReadyTimeout. If a
// process exits meanwhile it fails at once. Errors carry the tail of the API server's log.
func (c *ControlPlane) WaitReady(ctx context.Context) error {
	client := c.probeClient()
	url := c.Host() + "/readyz"
	return c.poll(ctx, c.apiserver, func() (bool, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+c.adminToken)
		resp, err := client.Do(req)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
		return resp.StatusCode == http.StatusOK, fmt.Sprintf("HTTP %d: %s", resp.StatusCode, body)
	})
}

func (c *ControlPlane) waitEtcd(ctx context.Context) error {
	client := c.probeClient()
	url := c.EtcdEndpoint() + "/health"
	return c.poll(ctx, c.etcd, func() (bool, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
		return resp.StatusCode == http.StatusOK && strings.Contains(string(body), `"true"`),
			fmt.Sprintf("HTTP %d: %s", resp.StatusCode, body)
	})
}

// poll calls check every 100ms until it succeeds, p exits, ctx ends or the timeout passes.
func (c *ControlPlane) poll(ctx context.Context, p *process, check func() (bool, string)) error {
	deadline := time.Now().Add(c.timeout)
	last := ""
	for {
		if gone, werr := p.exited(); gone {
			return fmt.Errorf("%s exited (%v); last lines of %s:\n%s", p.name, werr, p.logPath, logTail(p.logPath, 30))
		}
		ready, detail := check()
		if ready {
			return nil
		}
		last = detail
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s (last probe: %s); last lines of %s:\n%s",
				p.name, c.timeout, last, p.logPath, logTail(p.logPath, 30))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last probe: %s)", p.name, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *ControlPlane) probeClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.caPEM)
	return &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: pool},
			DisableKeepAlives: true, // probes span restarts: never reuse a dead connection
			Proxy:             nil,
		},
	}
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

// AdminToken is the bearer token of AdminUserName (system:masters).
func (c *ControlPlane) AdminToken() string { return c.adminToken }

// CoreDNSToken is the bearer token of CoreDNSUserName.
func (c *ControlPlane) CoreDNSToken() string { return c.corednsToken }

// Token returns the bearer token of u.
func (c *ControlPlane) Token(u User) string {
	if u == CoreDNS {
		return c.corednsToken
	}
	return c.adminToken
}

// APIServerLog and EtcdLog are the paths of the processes' logs (appended across restarts).
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

// Namespace creates the namespace name; it is not an error if it exists.
func (c *ControlPlane) Namespace(ctx context.Context, name string) error {
	cs, err := kubernetes.NewForConfig(c.AdminConfig())
	if err != nil {
		return err
	}
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func (c *ControlPlane) path(elem ...string) string {
	return filepath.Join(append([]string{c.dir}, elem...)...)
}

func (c *ControlPlane) anyRunning() bool {
	e, _ := c.etcd.exited()
	a, _ := c.apiserver.exited()
	return !e || !a
}

// saveState writes state.json; errors are ignored as it only serves Attach and StopFromPIDFile.
func (c *ControlPlane) saveState() {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	s := state{
		Dir:            c.dir,
		EtcdBin:        c.etcd.bin,
		EtcdArgs:       c.etcd.args,
		EtcdPID:        c.etcd.getPID(),
		APIServerBin:   c.apiserver.bin,
		APIServerArgs:  c.apiserver.args,
		APIServerPID:   c.apiserver.getPID(),
		EtcdClientPort: c.etcdClient,
		EtcdPeerPort:   c.etcdPeer,
		SecurePort:     c.securePort,
		AdminToken:     c.adminToken,
		CoreDNSToken:   c.corednsToken,
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return
	}
	tmp := c.path(stateFile + ".tmp")
	if os.WriteFile(tmp, data, 0o600) == nil {
		_ = os.Rename(tmp, c.path(stateFile))
	}
}

// Attach returns the control plane recorded in dir/state.json, typically one started with
// Options.Detach by another program. Its processes can be stopped and restarted as usual; Stop
// never removes dir.
func Attach(dir string) (*ControlPlane, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	c := &ControlPlane{
		dir:          dir,
		timeout:      60 * time.Second,
		securePort:   s.SecurePort,
		etcdClient:   s.EtcdClientPort,
		etcdPeer:     s.EtcdPeerPort,
		adminToken:   s.AdminToken,
		corednsToken: s.CoreDNSToken,
	}
	if c.caPEM, err = os.ReadFile(c.CAFile()); err != nil {
		return nil, err
	}
	c.etcd = &process{name: "etcd", bin: s.EtcdBin, args: s.EtcdArgs, pid: s.EtcdPID,
		logPath: c.path(etcdLogFile), pidPath: c.path(etcdPIDFile), detach: true}
	c.apiserver = &process{name: "kube-apiserver", bin: s.APIServerBin, args: s.APIServerArgs, pid: s.APIServerPID,
		logPath: c.path(apiserverLogFile), pidPath: c.path(apiserverPIDFile), detach: true}
	return c, nil
}

// StopFromPIDFile stops the control plane recorded in dir (see Options.Detach). It is not an
// error if none is recorded or it is already gone.
func StopFromPIDFile(dir string) error {
	c, err := Attach(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return c.Stop()
}

// RepoRoot finds the root of the repository: the nearest directory, from the working directory
// up, whose go.mod declares ModulePath.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modulePath(data) == ModulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module %s above the working directory", ModulePath)
		}
		dir = parent
	}
}

func modulePath(gomod []byte) string {
	for _, line := range strings.Split(string(gomod), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module"); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// findBinaries resolves the kube-apiserver and etcd binaries as documented on Options. A binary
// named explicitly (option or environment) must exist: there is no fallback past it.
func findBinaries(o Options) (apiserver, etcd string, err error) {
	binDir := o.BinDir
	if binDir == "" {
		if root, err := RepoRoot(); err == nil {
			binDir = filepath.Join(root, ".cache", "bin")
		}
	}
	inBinDir := func(name string) string {
		if binDir == "" {
			return ""
		}
		return filepath.Join(binDir, name)
	}

	var candidates []string
	switch {
	case o.KubeAPIServer != "":
		candidates = []string{o.KubeAPIServer}
	case os.Getenv("MCS_KUBE_APISERVER_BIN") != "":
		candidates = []string{os.Getenv("MCS_KUBE_APISERVER_BIN")}
	default:
		// No PATH fallback for kube-apiserver: a stray one of another version would be used silently.
		candidates = []string{inBinDir("kube-apiserver")}
	}
	var missing []string
	if apiserver = executable(candidates); apiserver == "" {
		missing = append(missing, fmt.Sprintf("kube-apiserver (looked at %q)", candidates))
	}

	switch {
	case o.Etcd != "":
		candidates = []string{o.Etcd}
	case os.Getenv("MCS_ETCD_BIN") != "":
		candidates = []string{os.Getenv("MCS_ETCD_BIN")}
	default:
		onPath, _ := exec.LookPath("etcd")
		candidates = []string{inBinDir("etcd"), onPath}
	}
	if etcd = executable(candidates); etcd == "" {
		missing = append(missing, fmt.Sprintf("etcd (looked at %q and PATH)", candidates))
	}

	if len(missing) > 0 {
		return "", "", fmt.Errorf("%w: %s", ErrBinaryNotFound, strings.Join(missing, "; "))
	}
	return apiserver, etcd, nil
}

// executable returns the absolute path of the first candidate that is an executable file.
func executable(candidates []string) string {
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if st, err := os.Stat(c); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			if abs, err := filepath.Abs(c); err == nil {
				return abs
			}
			return c
		}
	}
	return ""
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

// Config returns a client configuration for u.
func (c *ControlPlane) Config(u User) *rest.Config {
	cfg := &rest.Config{
		Host:            c.Host(),
		BearerToken:     c.Token(u),
		TLSClientConfig: rest.TLSClientConfig{CAData: append([]byte(nil), c.caPEM...)},
	}
	if u == Admin {
		// Test set-up creates many objects quickly; client-go's default 5 QPS would throttle it.
		cfg.QPS, cfg.Burst = 500, 1000
	}
	return cfg
}

// AdminConfig is a client configuration for AdminUserName (system:masters).
func (c *ControlPlane) AdminConfig() *rest.Config { return c.Config(Admin) }

// CoreDNSConfig is a client configuration for CoreDNSUserName, with client-go's default limits.
func (c *ControlPlane) CoreDNSConfig() *rest.Config { return c.Config(CoreDNS) }
