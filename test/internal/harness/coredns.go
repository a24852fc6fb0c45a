package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

// Options configure Start.
type Options struct {
	// Bin is the CoreDNS binary; "" means bin/coredns (CoreDNSBinary).
	Bin string
	// Dir holds the Corefile, the log and, when detached, the PID file (created if needed).
	Dir string
	// Corefile is the configuration.
	Corefile string
	// Port is the DNS port on 127.0.0.1 (UDP and TCP) of the Corefile's first server
	// block, which Addr and WaitDNS use.
	Port int
	// Detach starts CoreDNS in its own session so it outlives this program (the demo),
	// and writes PIDFile for StopFromPIDFile; otherwise it is killed when this program
	// dies, so an interrupted run leaves nothing behind.
	Detach bool
	// Wait, when set, makes Start wait up to that long until CoreDNS answers DNS.
	Wait time.Duration
	// Prefix goes before the command line, e.g. taskset -c 0. It must exec CoreDNS in
	// the same process, so that the PID is CoreDNS's.
	Prefix []string
	// Env is added to this program's environment, e.g. GOMAXPROCS=1.
	Env []string
}

// CoreDNS is a running bin/coredns.
type CoreDNS struct {
	// Dir holds the Corefile, the log and the PID file.
	Dir string
	// Port is the DNS port on 127.0.0.1 of the first server block.
	Port int
	// Corefile is the configuration it runs with.
	Corefile string
	// LogPath is where its stdout and stderr go.
	LogPath string
	// PID is its process id.
	PID int
	// Started is taken just before exec: times to ready measured from it include all of
	// CoreDNS's start-up.
	Started time.Time

	cmd     *exec.Cmd
	pidFile string // "" unless detached
	done    chan struct{}
	werr    error // the exit status, set before done is closed
}

// Start writes opts.Corefile into opts.Dir and starts CoreDNS with it, its output going
// to coredns.log there. With opts.Wait it returns once CoreDNS answers DNS on opts.Port
// (any answer: the plugin may still be syncing).
func Start(ctx context.Context, opts Options) (*CoreDNS, error) {
	bin := opts.Bin
	if bin == "" {
		var err error
		if bin, err = CoreDNSBinary(); err != nil {
			return nil, err
		}
	}
	// CoreDNS runs in Dir and is given the Corefile's path: a relative Dir would be
	// resolved twice.
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	opts.Dir = dir
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	conf := filepath.Join(opts.Dir, "Corefile")
	if err := os.WriteFile(conf, []byte(opts.Corefile), 0o644); err != nil {
		return nil, err
	}
	c := &CoreDNS{Dir: opts.Dir, Port: opts.Port, Corefile: opts.Corefile,
		LogPath: filepath.Join(opts.Dir, "coredns.log"), done: make(chan struct{})}
	logf, err := os.OpenFile(c.LogPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	argv := append(slices.Clone(opts.Prefix), bin, "-conf", conf)
	c.cmd = exec.Command(argv[0], argv[1:]...)
	c.cmd.Dir = opts.Dir
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	if len(opts.Env) > 0 {
		c.cmd.Env = append(os.Environ(), opts.Env...)
	}
	if opts.Detach {
		c.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	} else {
		c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	}
	c.Started = time.Now()
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	c.PID = c.cmd.Process.Pid
	go func() {
		c.werr = c.cmd.Wait()
		close(c.done)
	}()
	if opts.Detach {
		if err := c.writePIDFile(); err != nil {
			_ = c.Stop()
			return nil, err
		}
	}
	if opts.Wait > 0 {
		if err := c.WaitDNS(ctx, opts.Wait); err != nil {
			_ = c.Stop()
			return nil, err
		}
	}
	return c, nil
}
