package multicluster

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
)

func TestParse(t *testing.T) {
	tests := []struct {
		input   string
		keys    []string // server block keys; default clusterset.local.
		wantErr string   // substring of the error; "" means the stanza must parse
		check   func(*testing.T, *MultiCluster)
	}{
		{input: `multicluster`, check: func(t *testing.T, m *MultiCluster) {
			if len(m.Zones) != 1 || m.Zones[0] != "clusterset.local." {
				t.Errorf("zones %v, want the server block's zone", m.Zones)
			}
			if m.ttl != 5 || m.startupTimeout != 5*time.Second || m.kubeconfig != "" {
				t.Errorf("defaults: ttl %d, startup_timeout %s, kubeconfig %q", m.ttl, m.startupTimeout, m.kubeconfig)
			}
		}},
		{input: `multicluster clusterset.local example.ORG`, check: func(t *testing.T, m *MultiCluster) {
			if strings.Join(m.Zones, ",") != "clusterset.local.,example.org." {
				t.Errorf("zones %v", m.Zones)
			}
		}},
		{input: "multicluster clusterset.local {\n kubeconfig /etc/kube.conf\n}", check: func(t *testing.T, m *MultiCluster) {
			if m.kubeconfig != "/etc/kube.conf" || m.kubecontext != "" {
				t.Errorf("kubeconfig %q context %q", m.kubeconfig, m.kubecontext)
			}
		}},
		{input: "multicluster {\n kubeconfig /etc/kube.conf east\n}", check: func(t *testing.T, m *MultiCluster) {
			if m.kubeconfig != "/etc/kube.conf" || m.kubecontext != "east" {
				t.Errorf("kubeconfig %q context %q", m.kubeconfig, m.kubecontext)
			}
		}},
		{input: "multicluster {\n ttl 0\n}", check: func(t *testing.T, m *MultiCluster) {
			if m.ttl != 0 {
				t.Errorf("ttl %d", m.ttl)
			}
		}},
		{input: "multicluster {\n ttl 3600\n}", check: func(t *testing.T, m *MultiCluster) {
			if m.ttl != 3600 {
				t.Errorf("ttl %d", m.ttl)
			}
		}},
		{input: "multicluster {\n fallthrough\n}", check: func(t *testing.T, m *MultiCluster) {
			if !m.Fall.Through("x.clusterset.local.") {
				t.Error("fallthrough without zones should cover every name")
			}
		}},
		{input: "multicluster {\n fallthrough a.clusterset.local\n}", check: func(t *testing.T, m *MultiCluster) {
			if !m.Fall.Through("x.a.clusterset.local.") || m.Fall.Through("x.b.clusterset.local.") {
				t.Error("fallthrough zones not honoured")
			}
		}},
		{input: "multicluster {\n startup_timeout 30s\n}", check: func(t *testing.T, m *MultiCluster) {
			if m.startupTimeout != 30*time.Second {
				t.Errorf("startup_timeout %s", m.startupTimeout)
			}
		}},
		{input: "multicluster {\n startup_timeout 0s\n}", check: func(t *testing.T, m *MultiCluster) {
			if m.startupTimeout != 0 {
				t.Errorf("startup_timeout %s", m.startupTimeout)
			}
		}},
		// A bare "multicluster" in a ".:53" block serves clusterset.local, never the root.
		{input: `multicluster`, keys: []string{"."}, check: func(t *testing.T, m *MultiCluster) {
			if len(m.Zones) != 1 || m.Zones[0] != "clusterset.local." || m.zones[0].ns != "ns.dns.clusterset.local." {
				t.Errorf("zones %v (NS %q), want clusterset.local.", m.Zones, m.zones[0].ns)
			}
		}},
		{input: `multicluster`, keys: []string{".:53", "clusterset.local:53"}, check: func(t *testing.T, m *MultiCluster) {
			if strings.Join(m.Zones, ",") != "clusterset.local." {
				t.Errorf("zones %v, want clusterset.local. once", m.Zones)
			}
		}},
		{input: "multicluster {\n ns_address 10.96.0.10 fd00::a 10.96.0.10\n}", check: func(t *testing.T, m *MultiCluster) {
			m.setNSAddrs()
			if len(m.nsV4) != 4 || len(m.nsV6) != 16 {
				t.Errorf("ns_address: %d IPv4 and %d IPv6 bytes, want one of each", len(m.nsV4), len(m.nsV6))
			}
		}},

		{input: `multicluster .`, wantErr: `zone "." cannot be served: name the MCS zone, e.g. "multicluster clusterset.local"`},
		{input: "multicluster {\n ns_address\n}", wantErr: "Wrong argument count"},
		{input: "multicluster {\n ns_address ns1.example.org\n}", wantErr: `ns_address must be IP addresses: "ns1.example.org"`},
		{input: "multicluster {\n vips_from_slices\n}", check: func(t *testing.T, m *MultiCluster) {
			if !m.imports.VIPsFromSlices {
				t.Error("vips_from_slices not set")
			}
		}},
		{input: "multicluster", check: func(t *testing.T, m *MultiCluster) {
			if m.imports.VIPsFromSlices {
				t.Error("vips_from_slices on by default")
			}
		}},

		{input: "multicluster {\n vips_from_slices yes\n}", wantErr: "Wrong argument count"},
		{input: `multicluster`, check: func(t *testing.T, m *MultiCluster) {
			if m.loc.cluster() != "" || m.loc.fixed != "" || m.loc.all {
				t.Errorf("locality by default: cluster %q, fixed %q, all %v", m.loc.cluster(), m.loc.fixed, m.loc.all)
			}
		}},
		{input: "multicluster {\n cluster_id East.Example\n prefer_local\n}", check: func(t *testing.T, m *MultiCluster) {
			if m.loc.cluster() != "east.example" || m.loc.fixed != "east.example" || !m.loc.all {
				t.Errorf("cluster %q, fixed %q, all %v", m.loc.cluster(), m.loc.fixed, m.loc.all)
			}
		}},
		{input: "multicluster {\n cluster_id east\n}", check: func(t *testing.T, m *MultiCluster) {
			if m.loc.fixed != "east" || m.loc.all {
				t.Errorf("fixed %q, all %v", m.loc.fixed, m.loc.all)
			}
		}},
		{input: `multicluster clusterset.local 10.0.0.0/8 ip6.arpa`, check: func(t *testing.T, m *MultiCluster) {
			if strings.Join(m.Zones, ",") != "clusterset.local." || len(m.rev) != 2 || m.rev[0].origin != "10.in-addr.arpa." || m.rev[1].origin != "ip6.arpa." {
				t.Errorf("zones %v, reverse zones %+v", m.Zones, m.rev)
			}
		}},
		{input: `multicluster in-addr.arpa`, wantErr: "reverse zones need a forward zone"},
		{input: "multicluster {\n cluster_id\n}", wantErr: "Wrong argument count"},
		{input: "multicluster {\n cluster_id a b\n}", wantErr: "Wrong argument count"},
		{input: "multicluster {\n cluster_id under_score\n}", wantErr: "cluster_id must be a DNS subdomain"},
		{input: "multicluster {\n prefer_local yes\n}", wantErr: "Wrong argument count"},
		{input: "multicluster {\n kubeconfig\n}", wantErr: "Wrong argument count"},
		{input: "multicluster {\n kubeconfig a b c\n}", wantErr: "Wrong argument count"},
		{input: "multicluster {\n ttl\n}", wantErr: "Wrong argument count"},
		{input: "multicluster {\n ttl 1 2\n}", wantErr: "Wrong argument count"},
		{input: "multicluster {\n ttl -1\n}", wantErr: "ttl must be in range [0, 3600]: -1"},
		{input: "multicluster {\n ttl 3601\n}", wantErr: "ttl must be in range [0, 3600]: 3601"},
		{input: "multicluster {\n ttl five\n}", wantErr: "ttl must be an integer"},
		{input: "multicluster {\n startup_timeout\n}", wantErr: "Wrong argument count"},
		{input: "multicluster {\n startup_timeout 5\n}", wantErr: "startup_timeout must be a duration"},
		{input: "multicluster {\n startup_timeout -1s\n}", wantErr: "startup_timeout must not be negative"},
		{input: "multicluster {\n namespaces shop\n}", wantErr: `unknown property "namespaces"`},
		{input: "multicluster\nmulticluster", wantErr: "this plugin can only be used once per Server Block"},
	}
	for _, tc := range tests {
		t.Run(strings.ReplaceAll(tc.input, "\n", " "), func(t *testing.T) {
			c := caddy.NewTestController("dns", tc.input)
			c.ServerBlockKeys = []string{"clusterset.local."}
			if tc.keys != nil {
				c.ServerBlockKeys = tc.keys
			}
			m, err := parse(c)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("expected an error containing %q, got none", tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %q does not contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			tc.check(t, m)
		})
	}
}

// TestSetupNamesThePlugin checks that setup errors are wrapped with the plugin name,
// so CoreDNS's message says which plugin failed.
func TestSetupNamesThePlugin(t *testing.T) {
	c := caddy.NewTestController("dns", "multicluster {\n ttl 9999\n}")
	err := setup(c)
	if err == nil || !strings.Contains(err.Error(), "plugin/multicluster") {
		t.Fatalf("setup error %v, want it to name plugin/multicluster", err)
	}
}

// TestStartupWithBadKubeconfig: an unreadable kubeconfig fails start-up with a message
// that names the file.
func TestStartupWithBadKubeconfig(t *testing.T) {
	m := New([]string{"clusterset.local."})
	m.kubeconfig = "/nonexistent/kubeconfig"
	err := m.onStartup()
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/kubeconfig") {
		t.Fatalf("onStartup error %v, want it to name the kubeconfig", err)
	}
}

// TestBoundAddrs: the NS target's addresses are the bind addresses, else the
// interfaces' without loopback, else loopback.
func TestBoundAddrs(t *testing.T) {
	for _, tc := range []struct {
		hosts []string
		want  string
	}{
		{[]string{"127.0.0.1"}, "[127.0.0.1]"},
		{[]string{"127.0.0.1", "10.0.0.5", "fd00::5"}, "[10.0.0.5 fd00::5]"},
		{[]string{"0.0.0.0"}, "[]"},
	} {
		if got := fmt.Sprint(boundAddrs(tc.hosts)); got != tc.want {
			t.Errorf("boundAddrs(%v) = %s, want %s", tc.hosts, got, tc.want)
		}
	}
	if got := boundAddrs(nil); len(got) == 0 {
		t.Error("no address discovered from the interfaces (loopback at least)")
	}
}
