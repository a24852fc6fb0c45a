package clusterset

import (
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/mcs-dns/multicluster/test/controlplane"
)

// A ClusterSet with nodes (Options.Nodes) lives as long as the program that started it: the
// nodes' forwarders run in it and only it can drain them. make clusterset therefore runs that
// program in the background (mcs-clusterset serve, its own session), recorded in ServePIDFile;
// StopServe ends it with SIGTERM, on which it drains the nodes and stops everything.

const (
	// ServePIDFile and ServeLogFile are the background program's PID and output, under the
	// ClusterSet's directory; ReadyFile appears once it serves.
	ServePIDFile = "mcs-clusterset.pid"
	ServeLogFile = "mcs-clusterset.log"
	ReadyFile    = "ready"
	serveName    = "mcs-clusterset"
)

// StartServe starts bin with args in its own session, its output in dir/ServeLogFile, and
// records its PID.
func StartServe(dir, bin string, args ...string) (int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	return startDetached(dir, ServeLogFile, ServePIDFile, bin, args...)
}

// ServeRunning returns the background program's PID if it runs.
func ServeRunning(dir string) (int, bool) {
	pid, running, _ := controlplane.ReadPIDFile(filepath.Join(dir, ServePIDFile), serveName)
	return pid, running
}

// StopServe sends the background program SIGTERM and waits until it has drained the nodes and
// stopped (up to timeout; then SIGKILL, whose children die with it). Not running is no error.
func StopServe(dir string, timeout time.Duration) error {
	killed, err := controlplane.StopPIDFile(filepath.Join(dir, ServePIDFile), serveName, timeout)
	if killed {
		return errors.New(serveName + " did not stop within " + timeout.String() + " of SIGTERM: killed (see " + filepath.Join(dir, ServeLogFile) + ")")
	}
	return err
}
