package multicluster

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/mcs-dns/multicluster/internal/object"
	"github.com/mcs-dns/multicluster/internal/zone"

	"github.com/miekg/dns"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	mcsclient "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned"
)

var log = clog.NewWithPlugin(pluginName)

const (
	defaultTTL            = 5
	maxTTL                = 3600
	defaultStartupTimeout = 5 * time.Second
)

func init() { plugin.Register(pluginName, setup) }

func setup(c *caddy.Controller) error {
	m, err := parse(c)
	if err != nil {
		return plugin.Error(pluginName, err)
	}
	if len(m.nsAddrs) == 0 {
		m.nsAddrs = boundAddrs(dnsserver.GetConfig(c).ListenHosts)
	}
	m.setNSAddrs()
	cfg := dnsserver.GetConfig(c)
	m.listen = cfg.ListenHosts
	m.gauges = newGauges(serverAddr(cfg.Transport, cfg.ListenHosts, cfg.Port), m.Zones)
	c.OnStartup(m.onStartup)
	c.OnShutdown(m.onShutdown)
	// NOTIFY goes through the transfer plugin of this server block, if any (RFC 1996).
	c.OnStartup(func() error { m.startNotifier(dnsserver.GetConfig(c).Handler("transfer")); return nil })
	c.OnShutdown(func() error { m.stopNotifier(); return nil })
	dnsserver.GetConfig(c).AddPlugin(func(next plugin.Handler) plugin.Handler {
		m.Next = next
		return m
	})
	return nil
}

// parse reads the multicluster stanza; it does not talk to the API server.
func parse(c *caddy.Controller) (*MultiCluster, error) {
	var m *MultiCluster
	for c.Next() {
		if m != nil {
			return nil, plugin.ErrOnce
		}
		zones, err := zonesFor(c.RemainingArgs(), c.ServerBlockKeys)
		if err != nil {
			return nil, c.Err(err.Error())
		}
		m = New(zones)
		clusterID, preferAll := "", false
		for c.NextBlock() {
			switch c.Val() {
			case "kubeconfig":
				args := c.RemainingArgs()
				if len(args) != 1 && len(args) != 2 {
					return nil, c.ArgErr()
				}
				m.kubeconfig = args[0]
				if len(args) == 2 {
					m.kubecontext = args[1]
				}
			case "ttl":
				args := c.RemainingArgs()
				if len(args) != 1 {
					return nil, c.ArgErr()
				}
				t, err := strconv.Atoi(args[0])
				if err != nil {
					return nil, c.Errf("ttl must be an integer: %q", args[0])
				}
				if t < 0 || t > maxTTL {
					return nil, c.Errf("ttl must be in range [0, %d]: %d", maxTTL, t)
				}
				m.ttl = uint32(t)
			case "fallthrough":
				m.Fall.SetZonesFromArgs(c.RemainingArgs())
			case "startup_timeout":
				args := c.RemainingArgs()
				if len(args) != 1 {
					return nil, c.ArgErr()
				}
				d, err := time.ParseDuration(args[0])
				if err != nil {
					return nil, c.Errf("startup_timeout must be a duration such as 5s: %q", args[0])
				}
				if d < 0 {
					return nil, c.Errf("startup_timeout must not be negative: %s", d)
				}
				m.startupTimeout = d
			case "ns_address":
				args := c.RemainingArgs()
				if len(args) == 0 {
					return nil, c.ArgErr()
				}
				for _, a := range args {
					ip, err := netip.ParseAddr(a)
					if err != nil || ip.Zone() != "" {
						return nil, c.Errf("ns_address must be IP addresses: %q", a)
					}
					m.nsAddrs = append(m.nsAddrs, ip.Unmap())
				}
			case "vips_from_slices":
				if len(c.RemainingArgs()) != 0 {
					return nil, c.ArgErr()
				}
				m.imports.VIPsFromSlices = true
			case "cluster_id":
				args := c.RemainingArgs()
				if len(args) != 1 {
					return nil, c.ArgErr()
				}
				id := strings.ToLower(args[0])
				if !object.IsSubdomain(id) {
					return nil, c.Errf("cluster_id must be a DNS subdomain (KEP-2149): %q", args[0])
				}
				clusterID = id
			case "prefer_local":
				if len(c.RemainingArgs()) != 0 {
					return nil, c.ArgErr()
				}
				preferAll = true
			default:
				return nil, c.Errf("unknown property %q", c.Val())
			}
		}
		m.loc = newLocality(clusterID, preferAll)
	}
	if m == nil {
		return nil, c.ArgErr()
	}
	if len(m.Zones) == 0 {
		// PTR targets are names in a forward zone.
		return nil, c.Errf("reverse zones need a forward zone, such as clusterset.local, for the names PTRs answer")
	}
	return m, nil
}

// defaultZone is served when the plugin has no zone of its own: a bare "multicluster"
// in a ".:53" server block means clusterset.local, not the root.
const defaultZone = "clusterset.local."

// zonesFor returns the plugin's zones: its arguments, else the server block's. The root
// zone is refused when named and replaced by clusterset.local when inherited from the
// server block: this plugin's names live under one zone, and serving "." would build
// names such as "ns.dns.." and take every query that reaches it.
func zonesFor(args, keys []string) ([]string, error) {
	for _, a := range args {
		if dns.Fqdn(a) == "." {
			return nil, fmt.Errorf("zone %q cannot be served: name the MCS zone, e.g. \"multicluster %s\"", a, strings.TrimSuffix(defaultZone, "."))
		}
	}
	origins := plugin.OriginsFromArgsOrServerBlock(args, keys)
	zones := make([]string, 0, len(origins))
	for _, z := range origins {
		if z == "." {
			log.Infof("No zone given and the server block is the root zone: serving %s", defaultZone)
			z = defaultZone
		}
		if !slices.Contains(zones, z) {
			zones = append(zones, z)
		}
	}
	return zones, nil
}

// boundAddrs returns the addresses this server answers on, for the NS target's A and
// AAAA records (spec R10), the way the kubernetes plugin finds its own: the bind
// plugin's addresses, else the interfaces' addresses without loopback (a pod's IP),
// else loopback.
func boundAddrs(hosts []string) []netip.Addr {
	var bound, loopback []netip.Addr
	add := func(a netip.Addr) {
		a = a.Unmap()
		switch {
		case !a.IsValid() || a.IsUnspecified() || a.IsLinkLocalUnicast() || a.Zone() != "":
		case a.IsLoopback():
			loopback = append(loopback, a)
		default:
			bound = append(bound, a)
		}
	}
	if len(hosts) == 0 || hosts[0] == "" {
		ifaddrs, _ := net.InterfaceAddrs()
		for _, ia := range ifaddrs {
			if p, err := netip.ParsePrefix(ia.String()); err == nil {
				add(p.Addr())
			}
		}
	} else {
		for _, h := range hosts {
			a, _ := netip.ParseAddr(h)
			add(a)
		}
	}
	if len(bound) == 0 {
		bound = loopback
	}
	return bound
}

// setNSAddrs packs the NS target's addresses.
func (m *MultiCluster) setNSAddrs() {
	slices.SortFunc(m.nsAddrs, netip.Addr.Compare)
	m.nsAddrs = slices.Compact(m.nsAddrs)
	m.nsV4, m.nsV6 = zone.Pack(m.nsAddrs)
}

// onStartup connects to the API server and starts the watches, then waits at most
// startup_timeout for them to sync so the first answers are complete.
func (m *MultiCluster) onStartup() error {
	kube, mcs, dyn, cfg, err := m.clients()
	if err != nil {
		return plugin.Error(pluginName, err)
	}
	m.ctrl = newController(kube, mcs, m.index, m.longestZone())
	m.ctrl.watch.REST = cfg
	m.ctrl.gauges = m.gauges
	m.ctrl.watch.Imports = m.imports
	m.ctrl.loc = m.loc
	if m.loc.fixed == "" {
		m.ctrl.clusterID = m.ctrl.newClusterIDWatch(dyn)
	}
	m.ctrl.start()
	m.ctrl.waitSettled(m.startupTimeout)
	return nil
}

func (m *MultiCluster) onShutdown() error {
	if m.ctrl != nil {
		m.ctrl.stop()
	}
	// After the stop, so that no write follows the release (gauges.go).
	m.gauges.release()
	return nil
}

// clients builds the API clients from the kubeconfig, or the in-cluster config.
func (m *MultiCluster) clients() (kubernetes.Interface, mcsclient.Interface, dynamic.Interface, *rest.Config, error) {
	var (
		cfg *rest.Config
		err error
	)
	if m.kubeconfig != "" {
		rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: m.kubeconfig}
		overrides := &clientcmd.ConfigOverrides{CurrentContext: m.kubecontext}
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("kubeconfig %s: %w", m.kubeconfig, err)
		}
	} else {
		cfg, err = rest.InClusterConfig()
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("no kubeconfig given and no in-cluster config: %w", err)
		}
	}
	cfg.UserAgent = "coredns-multicluster"
	// ServiceImports are custom resources and only speak JSON; EndpointSlices also
	// speak protobuf, which is cheaper to decode on the (re)list of large ClusterSets.
	kubeCfg := rest.CopyConfig(cfg)
	kubeCfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	kubeCfg.ContentType = "application/vnd.kubernetes.protobuf"
	kube, err := kubernetes.NewForConfig(kubeCfg)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	mcs, err := mcsclient.NewForConfig(cfg)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return kube, mcs, dyn, cfg, nil
}

// longestZone is the length of the longest zone, which bounds the names the
// records may hold (RFC 1035 §2.3.4).
func (m *MultiCluster) longestZone() int {
	longest := 0
	for _, z := range m.Zones {
		longest = max(longest, len(z))
	}
	return longest
}
