package main

import (
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
	"syscall"
	"time"
)

// contender is one way of serving clusterset.local: each runs as its own bin/coredns
// process.
type contender string

const (
	// fileZone is the file plugin serving a zone file with the same records: the
	// ceiling of what CoreDNS itself can do with these answers.
	fileZone contender = "file"
	// fileSmall is the file plugin with a zone holding only the apex and the names of
	// the ClusterSetIP A query's service: CoreDNS's floor for that answer, measured on
	// that set only.
	fileSmall contender = "file-small"
	// baseline is bin/coredns with the whoami plugin: the RSS of the binary itself.
	baseline contender = "whoami"
	// inTree is the kubernetes plugin's multicluster option (CoreDNS v1.15.0).
	inTree contender = "kubernetes"
	// ours is the multicluster plugin.
	ours contender = "multicluster"
)

// label is the name tables use: (a), (b), (c) as in BENCHMARKS.md.
func (c contender) label() string {
	switch c {
	case fileZone:
		return "(a) file"
	case fileSmall:
		return "(a′) file, small zone"
	case inTree:
		return "(b) kubernetes multicluster"
	case ours:
		return "(c) multicluster"
	}
	return string(c)
}

// corefileOptions describe one contender's Corefile.
type corefileOptions struct {
	kind       contender
	port       int
	readyPort  int
	pprofPort  int
	kubeconfig string
	zoneFile   string
	// transfer adds `transfer { to * }` (only for the short-lived instance the zone
	// file is transferred from: the transfer plugin sits in the query path).
	transfer bool
}

// corefile renders the Corefile. The chain holds `errors` and the serving plugin only:
// ready and pprof open their own listeners and see no queries.
func corefile(o corefileOptions) string {
	var b strings.Builder
	fmt.Fprintf(&b, "clusterset.local:%d {\n    bind 127.0.0.1\n    errors\n", o.port)
	if o.readyPort != 0 {
		fmt.Fprintf(&b, "    ready 127.0.0.1:%d\n", o.readyPort)
	}
	if o.pprofPort != 0 {
		fmt.Fprintf(&b, "    pprof 127.0.0.1:%d\n", o.pprofPort)
	}
	switch o.kind {
	case fileZone, fileSmall:
		fmt.Fprintf(&b, "    file %s clusterset.local\n", o.zoneFile)
	case inTree:
		// The multicluster zone must also be one of the plugin's zones (README of
		// plugin/kubernetes, CoreDNS v1.15.0).
		fmt.Fprintf(&b, "    kubernetes clusterset.local {\n        kubeconfig %s\n        multicluster clusterset.local\n    }\n", o.kubeconfig)
	case ours:
		fmt.Fprintf(&b, "    multicluster clusterset.local {\n        kubeconfig %s\n    }\n", o.kubeconfig)
	case baseline:
		b.WriteString("    whoami\n")
	}
	if o.transfer {
		b.WriteString("    transfer {\n        to *\n    }\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// serverOptions say how to run a CoreDNS process.
type serverOptions struct {
	bin      string
	dir      string
	corefile corefileOptions
	// cpus, when set, pins the process with taskset (e.g. "0").
	cpus string
	// gomaxprocs, when > 0, sets GOMAXPROCS.
	gomaxprocs int
	// waitDNS waits until the port answers DNS before returning.
	waitDNS bool
}

// server is a running CoreDNS.
type server struct {
	kind    contender
	opts    serverOptions
	pid     int
	started time.Time // just before exec
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
	werr    error
}

// startServer writes the Corefile into opts.dir and starts bin/coredns.
func startServer(ctx context.Context, opts serverOptions) (*server, error) {
	if err := os.MkdirAll(opts.dir, 0o755); err != nil {
		return nil, err
	}
	conf := filepath.Join(opts.dir, "Corefile")
	if err := os.WriteFile(conf, []byte(corefile(opts.corefile)), 0o644); err != nil {
		return nil, err
	}
	s := &server{kind: opts.corefile.kind, opts: opts, logPath: filepath.Join(opts.dir, "coredns.log"), done: make(chan struct{})}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	args := []string{opts.bin, "-conf", conf}
	if opts.cpus != "" {
		args = append([]string{"taskset", "-c", opts.cpus}, args...)
	}
	s.cmd = exec.Command(args[0], args[1:]...)
	s.cmd.Dir = opts.dir
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.Env = os.Environ()
	if opts.gomaxprocs > 0 {
		s.cmd.Env = append(s.cmd.Env, "GOMAXPROCS="+strconv.Itoa(opts.gomaxprocs))
	}
	// Dies with us: an interrupted benchmark leaves nothing behind.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	s.started = time.Now()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", opts.bin, err)
	}
	// taskset execs CoreDNS in the same process.
	s.pid = s.cmd.Process.Pid
	go func() {
		s.werr = s.cmd.Wait()
		close(s.done)
	}()
	if opts.waitDNS {
		if err := s.waitDNS(ctx, 60*time.Second); err != nil {
			s.stop()
			return nil, err
		}
	}
	return s, nil
}

func (s *server) addr() string { return "127.0.0.1:" + strconv.Itoa(s.opts.corefile.port) }

func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// waitDNS waits until something answers a DNS query on the port.
func (s *server) waitDNS(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	probe := []byte{0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1} // ". NS"
	for {
		if s.exited() {
			return fmt.Errorf("%s exited (%v) before answering; log %s:\n%s", s.kind, s.werr, s.logPath, s.logTail())
		}
		conn, err := net.Dial("udp", s.addr())
		if err == nil {
			_ = conn.SetDeadline(time.Now().Add(100 * time.Millisecond))
			_, _ = conn.Write(probe)
			buf := make([]byte, 512)
			n, rerr := conn.Read(buf)
			conn.Close()
			if rerr == nil && n >= 12 && buf[0] == 0x12 && buf[1] == 0x34 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not answering on %s after %s; log %s:\n%s", s.kind, s.addr(), timeout, s.logPath, s.logTail())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ready reports whether the ready plugin's /ready answers 200.
func (s *server) ready() bool {
	if s.opts.corefile.readyPort == 0 {
		return false
	}
	c := http.Client{Timeout: 500 * time.Millisecond}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/ready", s.opts.corefile.readyPort))
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// cpuProfile fetches a CPU profile of the given length from the pprof plugin into path.
func (s *server) cpuProfile(ctx context.Context, d time.Duration, path string) error {
	if s.opts.corefile.pprofPort == 0 {
		return errors.New("no pprof listener")
	}
	return fetch(ctx, fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", s.opts.corefile.pprofPort, int(d.Seconds())), path)
}

// stop sends SIGTERM, then SIGKILL after 10 s.
func (s *server) stop() {
	if s == nil || s.cmd == nil || s.exited() {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return
	case <-time.After(10 * time.Second):
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}

func (s *server) logTail() string {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

// freePorts returns n distinct ports that were free on 127.0.0.1 for TCP and UDP.
func freePorts(n int) ([]int, error) {
	var ports []int
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		closers = append(closers, l)
		p := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		closers = append(closers, u)
		ports = append(ports, p)
	}
	return ports, nil
}
