package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
)

const ipForward = "/proc/sys/net/ipv4/ip_forward"

// network is what the node changed on the host: its bridge, the blackhole routes and the
// forwarding switch (pods reach Services through the host's netfilter, which needs it on).
type network struct {
	nodeBridge, podBridge string
	routes                []string
	forwardWas            string
	// netns and cgroupRoot are set for a node in a namespace of its own (netns.go).
	netns, cgroupRoot string
}

// bridgeNames are the node's interfaces, named after the node (interface names have at most 15
// characters; a node name may have 63).
func bridgeNames(name string) (node, pods string) {
	h := crc32.ChecksumIEEE([]byte(name)) & 0xffffff
	return fmt.Sprintf("mcsn%06x", h), fmt.Sprintf("mcsp%06x", h)
}

func setUpNetwork(o Options) (*network, error) {
	if o.NetNS != "" {
		return setUpNetNS(o)
	}
	n := &network{}
	n.nodeBridge, n.podBridge = bridgeNames(o.Name)
	// A bridge left by a run that was killed is taken down first: its address would clash.
	_ = ip("link", "del", n.nodeBridge)
	_ = ip("link", "del", n.podBridge)
	if err := ip("link", "add", n.nodeBridge, "type", "bridge"); err != nil {
		return n, err
	}
	if err := ip("addr", "add", o.NodeIP.String(), "dev", n.nodeBridge); err != nil {
		return n, err
	}
	if err := ip("link", "set", n.nodeBridge, "up"); err != nil {
		return n, err
	}
	// Addresses in these ranges that kube-proxy does not translate and no pod holds are dropped
	// here instead of following the default route off the machine.
	blackholes := []string{o.ServiceCIDR.Masked().String()}
	if o.ClusterPodCIDR.Bits() < o.PodCIDR.Bits() && o.ClusterPodCIDR.Contains(o.PodCIDR.Addr()) {
		blackholes = append(blackholes, o.ClusterPodCIDR.Masked().String())
	}
	for _, r := range blackholes {
		_ = ip("route", "del", "blackhole", r)
		if err := ip("route", "add", "blackhole", r); err != nil {
			return n, routeTaken(r, err)
		}
		n.routes = append(n.routes, r)
	}
	if err := n.forward("pods reach Services through the host"); err != nil {
		return n, err
	}
	return n, writeCNIConfig(o, n.podBridge)
}

// forward turns the host's IPv4 forwarding on, remembering how it was for tearDown.
func (n *network) forward(why string) error {
	was, err := os.ReadFile(ipForward)
	if err != nil {
		return err
	}
	n.forwardWas = strings.TrimSpace(string(was))
	if err := os.WriteFile(ipForward, []byte("1"), 0o644); err != nil {
		return fmt.Errorf("turning on IPv4 forwarding (%s): %w", why, err)
	}
	return nil
}

// writeCNIConfig gives pods an address on the node's pod bridge and routes to the pod and
// service ranges only (and the other clusters' pod ranges, Options.PeerPodCIDRs): no default
// route, so a pod cannot send anything off the machine.
func writeCNIConfig(o Options, bridge string) error {
	routes := []map[string]string{{"dst": o.ServiceCIDR.Masked().String()}, {"dst": o.ClusterPodCIDR.Masked().String()}}
	for _, p := range o.PeerPodCIDRs {
		routes = append(routes, map[string]string{"dst": p.Masked().String()})
	}
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "mcs-node",
		"plugins": []any{
			map[string]any{
				"type": "bridge", "bridge": bridge, "isGateway": true, "ipMasq": false, "hairpinMode": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"ranges":  [][]map[string]string{{{"subnet": o.PodCIDR.Masked().String()}}},
					"routes":  routes,
					"dataDir": o.path("cni", "ipam"),
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	data, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(o.path("cni", "10-mcs-node.conflist"), data, 0o644)
}

func (n *network) tearDown() error {
	var errs []error
	if n.netns != "" {
		// The veth pair, the host's routes through it and the namespace's chains go with it.
		errs = append(errs, ip("netns", "del", n.netns))
		if n.cgroupRoot != "" {
			errs = append(errs, removeCgroupRoot(strings.TrimPrefix(n.cgroupRoot, "/")))
		}
		if n.forwardWas != "" {
			errs = append(errs, os.WriteFile(ipForward, []byte(n.forwardWas), 0o644))
		}
		return errors.Join(errs...)
	}
	for _, r := range n.routes {
		errs = append(errs, ip("route", "del", "blackhole", r))
	}
	for _, b := range []string{n.podBridge, n.nodeBridge} {
		if b != "" {
			_ = ip("link", "del", b) // the pod bridge exists only once a pod ran
		}
	}
	if n.forwardWas != "" {
		errs = append(errs, os.WriteFile(ipForward, []byte(n.forwardWas), 0o644))
	}
	return errors.Join(errs...)
}

// routeTaken explains a route that could not be added because another owner has it: most
// likely another node of this machine (make clusterset routes its clusters' ranges into their
// namespaces).
func routeTaken(prefix string, err error) error {
	out, _ := exec.Command("ip", "route", "show", prefix).CombinedOutput()
	if have := strings.TrimSpace(string(out)); have != "" {
		return fmt.Errorf("%w: the host already routes %s (%s): another node uses this range; if `make clusterset` runs, stop it with `make clusterset-down`", err, prefix, have)
	}
	return err
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// unmountUnder lazily unmounts every mount below dir, deepest first: the kubelet's volumes,
// containerd's snapshots and sandbox files, left behind when a process is killed.
func unmountUnder(dir string) error {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			points = append(points, f[4])
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	var errs []error
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}
