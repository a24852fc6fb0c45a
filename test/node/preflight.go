package node

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrUnavailable wraps every reason Preflight gives: this machine cannot run a node. Suites skip
// on it (with the reason) where a kubelet is optional, and fail on it where it is required.
var ErrUnavailable = errors.New("this machine cannot run a kubelet node")

// cniDir is where Debian's containernetworking-plugins installs the plugins.
const cniDir = "/usr/lib/cni"

// Preflight checks what a node needs from this machine and says, for each missing part, what it
// is and how to get it.
func Preflight(binDir string) error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root: containerd, the kubelet and kube-proxy change mounts, cgroups, routes and iptables (run as root)")
	}
	for _, c := range []struct{ bin, fix string }{
		{"containerd", "apt-get install -y containerd"},
		{"ctr", "apt-get install -y containerd"},
		{"runc", "apt-get install -y runc"},
		{"iptables", "apt-get install -y iptables"},
		{"ip", "apt-get install -y iproute2"},
	} {
		if _, err := exec.LookPath(c.bin); err != nil {
			missing = append(missing, fmt.Sprintf("%s not on PATH (%s)", c.bin, c.fix))
		}
	}
	for _, p := range []string{"bridge", "host-local", "loopback", "portmap"} {
		if _, err := os.Stat(filepath.Join(cniDir, p)); err != nil {
			missing = append(missing, fmt.Sprintf("CNI plugin %s/%s (apt-get install -y containernetworking-plugins)", cniDir, p))
		}
	}
	for _, b := range []string{"kubelet", "kube-proxy"} {
		if _, err := os.Stat(filepath.Join(binDir, b)); err != nil {
			missing = append(missing, fmt.Sprintf("%s/%s (hack/ensure-tools.sh builds it)", binDir, b))
		}
	}
	// kube-proxy's rules see bridged pod-to-pod traffic only through br_netfilter.
	if _, err := os.Stat("/proc/sys/net/bridge/bridge-nf-call-iptables"); err != nil {
		missing = append(missing, "the br_netfilter kernel module (/proc/sys/net/bridge/bridge-nf-call-iptables is missing: modprobe br_netfilter)")
	}
	if _, err := os.Stat("/sys/fs/cgroup"); err != nil {
		missing = append(missing, "a cgroup hierarchy at /sys/fs/cgroup")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s", ErrUnavailable, strings.Join(missing, "; "))
	}
	return nil
}
