// Package e2e runs the multicluster plugin for real: bin/coredns (built by `make coredns`)
// against a real kube-apiserver and etcd (test/controlplane), queried with the real dig.
//
// The non-test files hold what both the end-to-end suite and the demo (test/demo) use:
// starting CoreDNS, running dig and parsing its output, and building the objects an MCS
// controller writes (ServiceImports and EndpointSlices).
package e2e

import (
	"bytes"
	"context"
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
	"syscall"
	"time"

	"github.com/mcs-dns/multicluster/test/controlplane"
)

// ErrNoCoreDNS is returned (wrapped) when bin/coredns is missing.
var ErrNoCoreDNS = errors.New("bin/coredns not found: run `make coredns` at the repository root first")

// CoreDNSBinary returns the path of bin/coredns at the repository root, or ErrNoCoreDNS.
func CoreDNSBinary() (string, error) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, "bin", "coredns")
	st, err := os.Stat(bin)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%w (looked at %s)", ErrNoCoreDNS, bin)
	}
	return bin, nil
}

// FreePort returns a port that was free on 127.0.0.1 for both TCP and UDP a moment ago.
func FreePort() (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		return port, nil
	}
	return 0, errors.New("no port free for both TCP and UDP on 127.0.0.1")
}

// PortFree reports whether port is free on 127.0.0.1 for TCP and UDP.
func PortFree(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	defer l.Close()
	u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	u.Close()
	return true
}

// CoreDNS is a running bin/coredns.
type CoreDNS struct {
	// Dir holds the Corefile, the log and the PID file.
	Dir string
	// Port is the DNS port on 127.0.0.1 (UDP and TCP) of the first server block.
	Port int
	// Corefile is the configuration it runs with.
	Corefile string
	// LogPath is where its stdout and stderr go.
	LogPath string
	// PID is its process id.
	PID int

	cmd  *exec.Cmd
	done chan struct{}
	werr error
	mu   sync.Mutex
}

// CoreDNSOptions configure StartCoreDNS.
type CoreDNSOptions struct {
	// Dir is where the Corefile, log and PID file go (created if needed).
	Dir string
	// Port is the DNS port the Corefile listens on; StartCoreDNS waits until it answers.
	Port int
	// Corefile is the configuration.
	Corefile string
	// Detach starts CoreDNS in its own session so it outlives this program (the demo);
	// otherwise it is killed when this program dies.
	Detach bool
	// Timeout bounds the wait for the first answer. Default 30s.
	Timeout time.Duration
}

// PIDFile is the name of the PID file StartCoreDNS writes into Dir.
const PIDFile = "coredns.pid"

// StartCoreDNS starts bin/coredns with opts.Corefile and waits until it answers DNS on
// 127.0.0.1:opts.Port (any answer: the plugin's startup_timeout may still be running).
func StartCoreDNS(ctx context.Context, opts CoreDNSOptions) (*CoreDNS, error) {
	bin, err := CoreDNSBinary()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	c := &CoreDNS{Dir: opts.Dir, Port: opts.Port, Corefile: opts.Corefile,
		LogPath: filepath.Join(opts.Dir, "coredns.log"), done: make(chan struct{})}
	conf := filepath.Join(opts.Dir, "Corefile")
	if err := os.WriteFile(conf, []byte(opts.Corefile), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(c.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	c.cmd = exec.Command(bin, "-conf", conf)
	c.cmd.Dir = opts.Dir
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	if opts.Detach {
		c.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	} else {
		c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	c.PID = c.cmd.Process.Pid
	go func() {
		err := c.cmd.Wait()
		c.mu.Lock()
		c.werr = err
		c.mu.Unlock()
		close(c.done)
	}()
	if err := os.WriteFile(filepath.Join(opts.Dir, PIDFile), []byte(strconv.Itoa(c.PID)+"\n"), 0o644); err != nil {
		_ = c.Stop()
		return nil, err
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if err := c.waitListening(ctx, timeout); err != nil {
		_ = c.Stop()
		return nil, err
	}
	return c, nil
}

// waitListening waits until something answers a DNS query on the port.
func (c *CoreDNS) waitListening(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	// "dns-version.clusterset.local. TXT", which the plugin answers even before it synced.
	probe := []byte{0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}
	for _, label := range []string{"dns-version", "clusterset", "local"} {
		probe = append(probe, byte(len(label)))
		probe = append(probe, label...)
	}
	probe = append(probe, 0, 0, 16, 0, 1)
	for {
		select {
		case <-c.done:
			return fmt.Errorf("coredns exited (%v) before answering; its log %s:\n%s", c.exitErr(), c.LogPath, c.Log())
		default:
		}
		conn, err := net.DialTimeout("udp", "127.0.0.1:"+strconv.Itoa(c.Port), time.Second)
		if err == nil {
			_ = conn.SetDeadline(time.Now().Add(200 * time.Millisecond))
			_, _ = conn.Write(probe)
			buf := make([]byte, 512)
			n, rerr := conn.Read(buf)
			conn.Close()
			if rerr == nil && n >= 12 && buf[0] == 0x12 && buf[1] == 0x34 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("coredns not answering on 127.0.0.1:%d after %s; its log %s:\n%s", c.Port, timeout, c.LogPath, c.Log())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *CoreDNS) exitErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.werr
}

// Exited reports whether the process has exited.
func (c *CoreDNS) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM, then SIGKILL after 10s, and waits for the process to exit.
func (c *CoreDNS) Stop() error {
	if c.cmd == nil || c.cmd.Process == nil {
		return nil
	}
	defer os.Remove(filepath.Join(c.Dir, PIDFile))
	if c.Exited() {
		return nil
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return nil
	case <-time.After(10 * time.Second):
	}
	_ = c.cmd.Process.Kill()
	select {
	case <-c.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("coredns (pid %d) did not exit after SIGKILL", c.PID)
	}
}

// Log returns everything CoreDNS has written so far.
func (c *CoreDNS) Log() string {
	data, err := os.ReadFile(c.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(data)
}

// StopFromPIDFile stops a detached CoreDNS whose PID file is in dir (SIGTERM, then SIGKILL).
// It is not an error if there is none or it is already gone.
func StopFromPIDFile(dir string) error {
	path := filepath.Join(dir, PIDFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer os.Remove(path)
	if !isCoreDNS(pid) {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if !isCoreDNS(pid) {
			return nil
		}
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	return nil
}

// isCoreDNS reports whether pid is a live (not zombie) coredns process.
func isCoreDNS(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	argv0, _, _ := bytes.Cut(cmdline, []byte{0})
	return filepath.Base(string(argv0)) == "coredns"
}

// HTTPGet fetches url and returns the status code and body (for /ready, /health, /metrics).
func HTTPGet(url string) (int, string, error) {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// Kill stops CoreDNS at once (SIGKILL), skipping any lameduck period.
func (c *CoreDNS) Kill() error {
	if c.cmd == nil || c.cmd.Process == nil || c.Exited() {
		return nil
	}
	defer os.Remove(filepath.Join(c.Dir, PIDFile))
	_ = c.cmd.Process.Kill()
	select {
	case <-c.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("coredns (pid %d) did not exit after SIGKILL", c.PID)
	}
}
