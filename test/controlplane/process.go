package controlplane

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopTimeout is how long a process gets after SIGTERM before it is sent SIGKILL.
const stopTimeout = 15 * time.Second

// process is one long-running child (etcd or kube-apiserver). It is either started by us (cmd
// set, done closed by the reaper goroutine) or adopted from a PID file (cmd nil, liveness polled).
type process struct {
	name    string // "etcd" or "kube-apiserver"
	bin     string
	args    []string
	logPath string
	pidPath string
	detach  bool
	// netns, when set, is the path of a network namespace the process runs in (nsenter
	// enters it and execs bin, so the PID and the command line are bin's).
	netns string

	mu   sync.Mutex
	pid  int
	done chan struct{} // closed when our child exits; nil for adopted processes
	werr error         // exit status of our child, valid once done is closed
}

// start launches the process with stdout and stderr appended to its log file.
func (p *process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pid != 0 && p.aliveLocked() {
		return fmt.Errorf("%s already running as pid %d", p.name, p.pid)
	}

	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own descriptor
	fmt.Fprintf(logf, "=== %s: %s %s\n", time.Now().Format(time.RFC3339), p.bin, strings.Join(p.args, " "))

	cmd := exec.Command(p.bin, p.args...)
	if p.netns != "" {
		cmd = exec.Command("nsenter", append([]string{"--net=" + p.netns, "--", p.bin}, p.args...)...)
	}
	cmd.Env = childEnv()
	cmd.Stdout = logf
	cmd.Stderr = logf
	if p.detach {
		// Own session: no signal from our terminal or process group reaches it, and it outlives us;
		// holding nothing of ours but its log.
		CloseInheritedOnExec()
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	} else {
		// Dies with us, so a crashed or killed test leaves nothing behind.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", p.name, err)
	}
	p.pid = cmd.Process.Pid
	done := make(chan struct{})
	p.done = done
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.werr = err
		p.mu.Unlock()
		close(done)
	}()
	if p.pidPath != "" {
		if err := os.WriteFile(p.pidPath, []byte(strconv.Itoa(p.pid)+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// exited reports whether the process has exited, and how.
func (p *process) exited() (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pid == 0 {
		return true, nil
	}
	if p.done != nil {
		select {
		case <-p.done:
			return true, p.werr
		default:
			return false, nil
		}
	}
	return !p.aliveLocked(), nil
}

// aliveLocked reports whether pid still names our process. For adopted processes it also checks
// the command line, so a recycled PID is not mistaken for ours.
func (p *process) aliveLocked() bool {
	if p.done != nil {
		select {
		case <-p.done:
			return false
		default:
			return true
		}
	}
	return pidRunning(p.pid, p.bin)
}

// stop sends SIGTERM, then SIGKILL after stopTimeout, and waits until the process is gone.
func (p *process) stop() error {
	p.mu.Lock()
	pid, done := p.pid, p.done
	alive := pid != 0 && p.aliveLocked()
	p.mu.Unlock()
	if !alive {
		p.clearPID()
		return nil
	}

	_ = syscall.Kill(pid, syscall.SIGTERM)
	if !waitGone(pid, p.bin, done, stopTimeout) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		if !waitGone(pid, p.bin, done, 5*time.Second) {
			return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, pid)
		}
	}
	p.clearPID()
	return nil
}

func (p *process) clearPID() {
	p.mu.Lock()
	p.pid = 0
	p.mu.Unlock()
	if p.pidPath != "" {
		_ = os.Remove(p.pidPath)
	}
}

func (p *process) getPID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid
}

// waitGone waits for done (our child) or, for adopted processes, polls the PID.
func waitGone(pid int, bin string, done chan struct{}, timeout time.Duration) bool {
	if done != nil {
		select {
		case <-done:
			return true
		case <-time.After(timeout):
			return false
		}
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !pidRunning(pid, bin) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// pidRunning reports whether pid is a live (not zombie) process running bin.
func pidRunning(pid int, bin string) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// Field 3, after the parenthesised command name, is the state; Z is a zombie.
	if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	argv0, _, _ := bytes.Cut(cmdline, []byte{0})
	return filepath.Base(string(argv0)) == filepath.Base(bin)
}

// childEnv is our environment without ETCD_* variables: etcd reads every one of them as a flag,
// and a stray one (or a duplicate of a flag we pass) makes it refuse to start.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "ETCD_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// logTail returns the last n lines of the file at path.
func logTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	const max = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size() > max {
		_, _ = f.Seek(-max, io.SeekEnd)
	}
	data, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// rssBytes returns the resident set size of pid, from /proc.
func rssBytes(pid int) (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}
