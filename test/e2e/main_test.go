// Package e2e runs the multicluster plugin for real: bin/coredns (built by `make coredns`)
// against a real kube-apiserver and etcd (test/controlplane), queried with the real dig.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcs-dns/multicluster/test/controlplane"
	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// The suite runs one control plane (etcd + kube-apiserver, both MCS CRD versions served)
// and one CoreDNS for most tests; the tests that need a different cluster (CRDs absent,
// v1alpha1 only, no RBAC binding) start their own.

// Zone is the plugin's zone.
const Zone = "clusterset.local."

// suite is the shared control plane and CoreDNS.
type suite struct {
	root    string
	cp      *controlplane.ControlPlane
	clients Clients
	dns     *harness.CoreDNS
	// Ports on 127.0.0.1: DNS of the main server block, DNS of the fallthrough block,
	// and the ready, health and prometheus listeners.
	port, fallPort, readyPort, healthPort, metricsPort int
	kubeconfig                                         string
}

var (
	env *suite
	// skipReason is set when the tools are missing and MCS_E2E_REQUIRED is unset.
	skipReason string
	// setupErr is set when setting up failed: every test fails with it.
	setupErr error
)

func required() bool { return os.Getenv("MCS_E2E_REQUIRED") != "" }

func TestMain(m *testing.M) {
	begin := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	s, err := setup(ctx)
	cancel()
	switch {
	case err == nil:
		env = s
		fmt.Printf("e2e: control plane %s and CoreDNS on 127.0.0.1:%d ready in %s\n", s.cp.Host(), s.port, time.Since(begin).Round(time.Millisecond))
	case !required() && (errors.Is(err, controlplane.ErrBinaryNotFound) || errors.Is(err, exec.ErrNotFound)):
		skipReason = fmt.Sprintf("skipping end-to-end tests: %v (run hack/ensure-tools.sh; set MCS_E2E_REQUIRED=1 to make this a failure)", err)
		fmt.Println(skipReason)
	default:
		setupErr = err
		fmt.Fprintln(os.Stderr, "e2e set-up failed:", err)
	}
	code := m.Run()
	if s != nil {
		s.stop()
	}
	os.Exit(code)
}

// need skips or fails t when the shared suite is not available, and returns it.
func need(t *testing.T) *suite {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	if setupErr != nil {
		t.Fatalf("set-up failed: %v", setupErr)
	}
	return env
}

func setup(ctx context.Context) (s *suite, err error) {
	if _, err := exec.LookPath("dig"); err != nil {
		return nil, fmt.Errorf("dig: %w", err)
	}
	root, err := controlplane.RepoRoot()
	if err != nil {
		return nil, err
	}
	cp, err := controlplane.Start(ctx, controlplane.Options{})
	if err != nil {
		return nil, err
	}
	s = &suite{root: root, cp: cp}
	defer func() {
		if err != nil {
			s.stop()
			s = nil
		}
	}()
	// Only now: a missing bin/coredns is a failure, not a skip (`make coredns`).
	if _, err := harness.CoreDNSBinary(); err != nil {
		return s, err
	}
	if s.clients, err = adminClients(cp); err != nil {
		return s, err
	}
	// The coredns identity gets exactly deploy/'s ClusterRole, through deploy/'s binding.
	if err := harness.ApplyRBAC(ctx, cp, root); err != nil {
		return s, err
	}
	dir, err := os.MkdirTemp("", "mcs-e2e-coredns-")
	if err != nil {
		return s, err
	}
	s.kubeconfig = filepath.Join(dir, "coredns.kubeconfig")
	if err := cp.WriteKubeconfig(s.kubeconfig, controlplane.CoreDNS); err != nil {
		return s, err
	}
	ports, err := harness.FreePorts(5)
	if err != nil {
		return s, err
	}
	s.port, s.fallPort, s.readyPort, s.healthPort, s.metricsPort = ports[0], ports[1], ports[2], ports[3], ports[4]
	if err := writeZoneFiles(dir); err != nil {
		return s, err
	}
	s.dns, err = startCoreDNS(ctx, dir, s.port, s.corefile(dir))
	if err != nil {
		return s, err
	}
	if err := waitReady(ctx, s.readyPort, 30*time.Second); err != nil {
		return s, fmt.Errorf("%w; CoreDNS log:\n%s", err, s.dns.Log())
	}
	return s, nil
}

// corefile is the main CoreDNS's configuration: the kubernetes plugin for cluster.local
// (as kube-dns has it) and multicluster in one server block, as deploy/ has them, with
// the transfer plugin; example.org served by the file plugin in its own block; and a
// second multicluster with fallthrough to the file plugin on another port. No cache:
// the tests check that changes show within 2 s.
func (s *suite) corefile(dir string) string {
	return fmt.Sprintf(`.:%[1]d {
    bind 127.0.0.1
    errors
    health 127.0.0.1:%[3]d
    ready 127.0.0.1:%[4]d
    prometheus 127.0.0.1:%[5]d
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig %[6]s
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    multicluster clusterset.local {
        kubeconfig %[6]s
    }
    transfer {
        to *
    }
}
example.org:%[1]d {
    bind 127.0.0.1
    errors
    file %[7]s
}
clusterset.local:%[2]d {
    bind 127.0.0.1
    errors
    multicluster {
        kubeconfig %[6]s
        fallthrough
    }
    file %[8]s clusterset.local
}
`, s.port, s.fallPort, s.healthPort, s.readyPort, s.metricsPort, s.kubeconfig,
		filepath.Join(dir, "example.org.zone"), filepath.Join(dir, "clusterset.local.fallthrough.zone"))
}

// writeZoneFiles writes the zones the file plugin serves next to multicluster.
func writeZoneFiles(dir string) error {
	example := `$ORIGIN example.org.
@       3600 IN SOA ns.example.org. hostmaster.example.org. 2024010101 7200 1800 86400 30
@       3600 IN NS  ns.example.org.
ns      3600 IN A   192.0.2.53
www     3600 IN A   192.0.2.80
`
	// What the fallthrough block's file plugin answers for names multicluster does not have.
	fall := `$ORIGIN clusterset.local.
@       30 IN SOA ns.file.test. hostmaster.file.test. 1 7200 1800 86400 30
@       30 IN NS  ns.file.test.
missing.svc 30 IN TXT "from the file plugin"
`
	if err := os.WriteFile(filepath.Join(dir, "example.org.zone"), []byte(example), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "clusterset.local.fallthrough.zone"), []byte(fall), 0o644)
}

func (s *suite) stop() {
	if s.dns != nil {
		_ = s.dns.Kill()
		_ = os.RemoveAll(s.dns.Dir)
	}
	if s.cp != nil {
		_ = s.cp.Stop()
	}
}

func adminClients(cp *controlplane.ControlPlane) (Clients, error) {
	c, err := harness.NewClients(cp.AdminConfig())
	return Clients{c}, err
}

// waitReady polls the ready plugin until it answers 200.
func waitReady(ctx context.Context, port int, timeout time.Duration) error {
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/ready"
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		code, body, err := httpGet(url)
		if err == nil && code == 200 {
			return nil
		}
		last = fmt.Sprintf("%d %s %v", code, strings.TrimSpace(body), err)
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not 200 after %s (last: %s)", url, timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
