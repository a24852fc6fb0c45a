package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mcs-dns/multicluster/test/internal/harness"
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
	proc    *harness.CoreDNS
}

// startServer writes the Corefile into opts.dir and starts bin/coredns, which dies with
// us: an interrupted benchmark leaves nothing behind.
func startServer(ctx context.Context, opts serverOptions) (*server, error) {
	h := harness.Options{Bin: opts.bin, Dir: opts.dir, Corefile: corefile(opts.corefile), Port: opts.corefile.port}
	if opts.cpus != "" {
		// taskset execs CoreDNS in the same process: the PID is CoreDNS's.
		h.Prefix = []string{"taskset", "-c", opts.cpus}
	}
	if opts.gomaxprocs > 0 {
		h.Env = []string{"GOMAXPROCS=" + strconv.Itoa(opts.gomaxprocs)}
	}
	proc, err := harness.Start(ctx, h)
	if err != nil {
		return nil, err
	}
	s := &server{kind: opts.corefile.kind, opts: opts, pid: proc.PID, started: proc.Started, logPath: proc.LogPath, proc: proc}
	if opts.waitDNS {
		if err := s.waitDNS(ctx, 60*time.Second); err != nil {
			s.stop()
			return nil, err
		}
	}
	return s, nil
}

func (s *server) addr() string { return s.proc.Addr() }

func (s *server) exited() bool { return s.proc.Exited() }

// waitDNS waits until something answers a DNS query on the port.
func (s *server) waitDNS(ctx context.Context, timeout time.Duration) error {
	if err := s.proc.WaitDNS(ctx, timeout); err != nil {
		return fmt.Errorf("%s: %w", s.kind, err)
	}
	return nil
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
	if s != nil {
		_ = s.proc.Stop()
	}
}

func (s *server) logTail() string { return s.proc.LogTail(20) }

// freePorts returns n distinct ports that were free on 127.0.0.1 for TCP and UDP.
func freePorts(n int) ([]int, error) { return harness.FreePorts(n) }
