package node

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
)

// A node in a network namespace of its own (Options.NetNS) is how a second cluster's node runs
// on the same machine: kube-proxy's chains (KUBE-SERVICES, ...) and the kubelet's ports and
// chains have fixed names, so two nodes in one namespace would rewrite each other's rules. Its
// processes enter the namespace with nsenter --net only: they keep the host's mount namespace,
// where the kubelet mounts volumes and containerd reads them (ip netns exec would give each a
// private one).

func netnsPath(name string) string { return filepath.Join("/run/netns", name) }

// setUpNetNS creates the namespace and a veth pair into it (NodeIP inside, HostIP outside),
// routes the node's pod and service ranges from the host into it, and inside it blackholes the
// cluster's pod and service ranges (as the host does for a node of its own) and turns
// forwarding on: pods reach Services through the namespace's netfilter.
func setUpNetNS(o Options) (*network, error) {
	n := &network{netns: o.NetNS}
	n.nodeBridge, n.podBridge = bridgeNames(o.Name)
	inner := "mcsi" + strings.TrimPrefix(n.nodeBridge, "mcsn")
	// A namespace left by a run that was killed is deleted first (its veth pair goes with it).
	_ = ip("netns", "del", o.NetNS)
	_ = ip("link", "del", n.nodeBridge)
	steps := [][]string{
		{"netns", "add", o.NetNS},
		{"link", "add", n.nodeBridge, "type", "veth", "peer", "name", inner, "netns", o.NetNS},
		{"addr", "add", o.HostIP.String(), "dev", n.nodeBridge},
		{"link", "set", n.nodeBridge, "up"},
		{"-n", o.NetNS, "link", "set", "lo", "up"},
		{"-n", o.NetNS, "addr", "add", o.NodeIP.String(), "dev", inner},
		{"-n", o.NetNS, "link", "set", inner, "up"},
		{"route", "add", o.PodCIDR.Masked().String(), "via", o.NodeIP.Addr().String()},
		{"route", "add", o.ServiceCIDR.Masked().String(), "via", o.NodeIP.Addr().String()},
		{"-n", o.NetNS, "route", "add", "blackhole", o.ServiceCIDR.Masked().String()},
	}
	if o.ClusterPodCIDR.Bits() < o.PodCIDR.Bits() && o.ClusterPodCIDR.Contains(o.PodCIDR.Addr()) {
		steps = append(steps, []string{"-n", o.NetNS, "route", "add", "blackhole", o.ClusterPodCIDR.Masked().String()})
	}
	for _, p := range o.PeerPodCIDRs {
		steps = append(steps, []string{"-n", o.NetNS, "route", "add", p.Masked().String(), "via", o.HostIP.Addr().String()})
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			if s[0] == "route" {
				return n, routeTaken(s[2], err)
			}
			return n, err
		}
	}
	// Per-namespace switches (Linux 5.3+ keeps the bridge ones per namespace too).
	for _, sysctl := range []string{"net/ipv4/ip_forward", "net/bridge/bridge-nf-call-iptables"} {
		if err := nsWrite(o.NetNS, "/proc/sys/"+sysctl, "1"); err != nil {
			return n, fmt.Errorf("turning on %s in network namespace %s: %w", sysctl, o.NetNS, err)
		}
	}
	if len(o.PeerPodCIDRs) > 0 {
		if err := n.forward("pods reach other clusters' pods through the host"); err != nil {
			return n, err
		}
	}
	var err error
	if n.cgroupRoot, err = makeCgroupRoot(o.NetNS); err != nil {
		return n, err
	}
	return n, writeCNIConfig(o, n.podBridge)
}

// nsWrite writes value to a file of /proc/sys as seen from inside the namespace (/proc/sys/net
// shows the namespace of the process that opens it).
func nsWrite(netns, path, value string) error {
	out, err := exec.Command("nsenter", "--net="+netnsPath(netns), "--", "sh", "-c", fmt.Sprintf("echo %s > %s", value, path)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// cgroupMount is where the cgroup hierarchies are mounted (v1: one per controller).
const cgroupMount = "/sys/fs/cgroup"

// makeCgroupRoot creates the cgroup /name in every hierarchy: the second kubelet's cgroupRoot.
// Two kubelets under the same root would each take the other's pod cgroups for orphans and
// remove them; the kubelet refuses a cgroupRoot that does not exist in every hierarchy. A new
// cpuset cgroup starts with no CPUs and no memory nodes; it gets its parent's.
func makeCgroupRoot(name string) (string, error) {
	entries, err := os.ReadDir(cgroupMount)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		h := filepath.Join(cgroupMount, e.Name())
		if _, err := os.Stat(filepath.Join(h, "cgroup.procs")); err != nil {
			continue // not a hierarchy (or a v2 mount with nothing to do)
		}
		dir := filepath.Join(h, name)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("creating cgroup %s: %w", dir, err)
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if v, err := os.ReadFile(filepath.Join(h, f)); err == nil {
				if err := os.WriteFile(filepath.Join(dir, f), v, 0o644); err != nil {
					return "", fmt.Errorf("cgroup %s: %w", filepath.Join(dir, f), err)
				}
			}
		}
	}
	return "/" + name, nil
}

// removeCgroupRoot removes /name and what the kubelet made under it, deepest first, in every
// hierarchy. A cgroup still holding a process stays (and is reported).
func removeCgroupRoot(name string) error {
	var dirs []string
	entries, err := os.ReadDir(cgroupMount)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, e := range entries {
		root, err := filepath.EvalSymlinks(filepath.Join(cgroupMount, e.Name(), name))
		if err != nil || seen[root] {
			continue
		}
		seen[root] = true
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
	}
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	var errs []error
	for _, d := range dirs {
		if err := os.Remove(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing cgroup %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// kubeconfig is the file the node's kubelet and kube-proxy authenticate with: the caller's,
// or for a node in a namespace (where 127.0.0.1 is the namespace's own loopback) a copy that
// reaches the API server at HostIP through the forwarder, still verifying the certificate
// for the name the caller's file had.
func (o Options) kubeconfig() string {
	if o.NetNS == "" {
		return o.Kubeconfig
	}
	return o.path("node.kubeconfig")
}

func writeNodeKubeconfig(o Options) error {
	if o.NetNS == "" {
		return nil
	}
	cfg, err := clientcmd.LoadFromFile(o.Kubeconfig)
	if err != nil {
		return err
	}
	for name, c := range cfg.Clusters {
		u, err := url.Parse(c.Server)
		if err != nil {
			return fmt.Errorf("kubeconfig %s, cluster %s: %w", o.Kubeconfig, name, err)
		}
		if c.TLSServerName == "" {
			c.TLSServerName = u.Hostname()
		}
		u.Host = netip.AddrPortFrom(o.apiAddr(), uint16(o.APIServerPort)).String()
		c.Server = u.String()
	}
	return clientcmd.WriteToFile(*cfg, o.kubeconfig())
}
