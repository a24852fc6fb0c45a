package clusterset

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mcs-dns/multicluster/test/controlplane"
	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// A detached ClusterSet (make clusterset) outlives the program that started it; Down stops
// it from what is recorded under its directory: each cluster's control plane state and
// CoreDNS PID file, and the exporter's PID file.

const (
	exporterPIDFile = "mcs-exporter.pid"
	exporterLogFile = "mcs-exporter.log"
)

// StartExporterProcess starts the mcs-exporter binary detached, over every cluster of the
// ClusterSet's kubeconfig, its output in Dir/mcs-exporter.log. It returns its PID.
func (cs *ClusterSet) StartExporterProcess(bin string) (int, error) {
	var names []string
	for _, c := range cs.Clusters {
		names = append(names, c.Name)
	}
	return startDetached(cs.Dir, exporterLogFile, exporterPIDFile, bin,
		"-kubeconfig", cs.KubeconfigPath(), "-clusters", strings.Join(names, ","))
}

// startDetached starts bin with args in a session of its own (it outlives this program and
// holds nothing of it but its log), its output appended to dir/logName, and records its PID in
// dir/pidName.
func startDetached(dir, logName, pidName, bin string, args ...string) (int, error) {
	logf, err := os.OpenFile(filepath.Join(dir, logName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	controlplane.CloseInheritedOnExec()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting %s: %w", bin, err)
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	return pid, os.WriteFile(filepath.Join(dir, pidName), []byte(strconv.Itoa(pid)+"\n"), 0o644)
}

// ExporterLog is the path of the exporter process's log.
func (cs *ClusterSet) ExporterLog() string { return filepath.Join(cs.Dir, exporterLogFile) }

// Down stops the detached ClusterSet recorded in dir (exporter, every CoreDNS, every control
// plane) and removes dir. It is not an error if nothing runs.
func Down(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var errs []error
	if _, err := controlplane.StopPIDFile(filepath.Join(dir, exporterPIDFile), "mcs-exporter", 10*time.Second); err != nil {
		errs = append(errs, err)
	}
	for _, spec := range Specs {
		errs = append(errs, harness.StopFromPIDFile(filepath.Join(dir, spec.Name, "coredns")))
		errs = append(errs, controlplane.StopFromPIDFile(filepath.Join(dir, spec.Name, "controlplane")))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}
