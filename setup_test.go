package multicluster

import (
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
)

func TestParse(t *testing.T) {
	tests := []struct {
		input   string
		wantErr string // substring of the error; "" means the stanza must parse
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

		{input: "multicluster {\n kubeconfig\n}", wantErr: "Wrong argument count"},
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
