package harness

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mcs-dns/multicluster/test/controlplane"
)

// A detached CoreDNS outlives the program that started it (the demo's `up`); its PID
// file is how a later program (`down`) finds it.

// PIDFile is the name of the PID file Start writes into the directory of a detached
// CoreDNS.
const PIDFile = "coredns.pid"

func (c *CoreDNS) writePIDFile() error {
	path := filepath.Join(c.Dir, PIDFile)
	if err := os.WriteFile(path, []byte(strconv.Itoa(c.PID)+"\n"), 0o644); err != nil {
		return err
	}
	c.pidFile = path
	return nil
}

func (c *CoreDNS) removePIDFile() {
	if c.pidFile != "" {
		_ = os.Remove(c.pidFile)
	}
}

// StopFromPIDFile stops a detached CoreDNS whose PID file is in dir (SIGTERM, then
// SIGKILL). It is not an error if there is none or it is already gone.
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

// isCoreDNS reports whether pid is a live (not zombie) coredns process: the PID may
// have been reused since the file was written.
func isCoreDNS(pid int) bool { return controlplane.PIDRunning(pid, "coredns") }
