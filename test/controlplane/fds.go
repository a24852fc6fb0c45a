package controlplane

import (
	"os"
	"strconv"
	"syscall"
)

// CloseInheritedOnExec marks every descriptor above stderr close-on-exec, so that a process
// this program starts detached does not hold what this program inherited: os/exec passes only
// stdin, stdout and stderr on purpose, but a descriptor this program was given without
// close-on-exec (flock(1)'s lock file, when run as `flock LOCK go run ...`) leaks into every
// child, and a detached child would hold the lock until it exits. Descriptors Go opens are
// already close-on-exec; this changes nothing for this program itself.
func CloseInheritedOnExec() {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		syscall.CloseOnExec(fd)
	}
}
