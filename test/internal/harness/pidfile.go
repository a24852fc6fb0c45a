package harness

import (
	"os"
	"path/filepath"
	"strconv"
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
	_, err := controlplane.StopPIDFile(filepath.Join(dir, PIDFile), "coredns", 10*time.Second)
	return err
}
