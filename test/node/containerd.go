package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/mcs-dns/multicluster/test/controlplane"
)

// SandboxImage is the pod sandbox ("pause") image containerd runs for every pod. No registry is
// reachable, so it is imported from a local archive (Images) under this name.
const SandboxImage = "registry.k8s.io/pause:3.10"

// containerd is Debian's containerd with a configuration, root, state and socket of its own
// (PID 1 here is not systemd: its unit would not start, and the machine's defaults are left alone).
type containerd struct {
	daemon *controlplane.Daemon
	socket string
}

// containerdConfig: the CRI plugin with runc under cgroupfs (the kubelet's cgroupDriver), the
// CNI configuration of this node, the pods' network namespaces under its own state directory
// (so that a node stopped before the kubelet removed every sandbox leaves none in the host's
// /var/run/netns), and restrict_oom_score_adj: the kubelet asks for a negative
// OOM score for sandboxes and critical pods, which needs CAP_SYS_RESOURCE; where root lacks it
// (containers, some VMs) runc fails with "can't get final child's PID from pipe" unless
// containerd clamps the score to its own.
func containerdConfig(o Options, socket string) string {
	return fmt.Sprintf(`version = 2
root = %q
state = %q
[grpc]
  address = %q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
`, o.path("containerd", "root"), o.path("containerd", "state"), socket, SandboxImage, cniDir, o.path("cni"))
}

func startContainerd(ctx context.Context, o Options) (*containerd, error) {
	c := &containerd{socket: o.path("containerd", "containerd.sock")}
	if err := os.MkdirAll(o.path("containerd"), 0o755); err != nil {
		return nil, err
	}
	conf := o.path("containerd", "config.toml")
	if err := os.WriteFile(conf, []byte(containerdConfig(o, c.socket)), 0o644); err != nil {
		return nil, err
	}
	d, err := o.startDaemon("containerd", "containerd", []string{"--config", conf})
	if err != nil {
		return nil, err
	}
	c.daemon = d
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := c.ctr(ctx, "version"); err == nil {
			return c, nil
		} else if time.Now().After(deadline) {
			return c, fmt.Errorf("containerd did not answer on %s within 30s: %v\n%s", c.socket, err, d.LogTail(20))
		}
		if exited, werr := d.Exited(); exited {
			return c, fmt.Errorf("containerd exited: %v\n%s", werr, d.LogTail(20))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ctr runs containerd's own client in the CRI's namespace, where the kubelet's images live.
func (c *containerd) ctr(ctx context.Context, args ...string) (string, error) {
	full := append([]string{"--address", c.socket, "--namespace", "k8s.io"}, args...)
	out, err := exec.CommandContext(ctx, "ctr", full...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ctr %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// ImportImage imports an image archive (docker-archive or OCI) into the node's containerd, under
// the names it records: pods name them with imagePullPolicy IfNotPresent or Never.
func (n *Node) ImportImage(ctx context.Context, archive string) error {
	_, err := n.ctrd.ctr(ctx, "images", "import", archive)
	return err
}

// stop kills what still runs in containerd (the kubelet normally removed it when the node was
// drained), then containerd itself. Its shims are processes of their own and would outlive it.
func (c *containerd) stop() error {
	var errs []error
	if c.daemon == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := c.ctr(ctx, "tasks", "ls", "-q"); err == nil {
		for _, id := range strings.Fields(out) {
			_, _ = c.ctr(ctx, "tasks", "kill", "-s", "SIGKILL", id)
			_, _ = c.ctr(ctx, "tasks", "delete", "-f", id)
		}
	}
	errs = append(errs, c.daemon.Stop())
	return errors.Join(errs...)
}
