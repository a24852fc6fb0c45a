package controlplane

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ReadPIDFile returns the PID recorded in path and whether it is a live process running bin
// (a PID read from a file may have been reused since it was written). A missing file is
// (0, false, nil).
func ReadPIDFile(path, bin string) (pid int, running bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if pid, err = strconv.Atoi(strings.TrimSpace(string(data))); err != nil {
		return 0, false, fmt.Errorf("%s: %w", path, err)
	}
	return pid, PIDRunning(pid, bin), nil
}

// StopPIDFile stops the process recorded in path if it still runs bin: SIGTERM, then SIGKILL
// if it has not exited after grace (killed reports that). It removes the file. A missing file
// or a process already gone is no error.
func StopPIDFile(path, bin string, grace time.Duration) (killed bool, err error) {
	pid, running, err := ReadPIDFile(path, bin)
	if err != nil || pid == 0 {
		return false, err
	}
	defer os.Remove(path)
	if !running {
		return false, nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for deadline := time.Now().Add(grace); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if !PIDRunning(pid, bin) {
			return false, nil
		}
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	return true, nil
}
