package e2e

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcs-dns/multicluster/test/controlplane"
	"github.com/mcs-dns/multicluster/test/internal/harness"
)

var deleteNow = metav1.DeleteOptions{}

// secondary is a control plane and a CoreDNS of their own, for the cases the shared
// cluster cannot show.
type secondary struct {
	cp                        *controlplane.ControlPlane
	clients                   Clients
	dns                       *harness.CoreDNS
	port, readyPort, metricsP int
	kubeconfig                string
}

// startSecondary starts a control plane with opts and, unless bind is false, binds the
// coredns identity to deploy/'s ClusterRole.
func startSecondary(t *testing.T, opts controlplane.Options, bind bool) *secondary {
	t.Helper()
	ctx := context.Background()
	begin := time.Now()
	cp, err := controlplane.Start(ctx, opts)
	if errors.Is(err, controlplane.ErrBinaryNotFound) && !required() {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cp.Stop() })
	t.Logf("control plane ready in %s", time.Since(begin).Round(time.Millisecond))
	x := &secondary{cp: cp}
	if x.clients, err = adminClients(cp); err != nil {
		t.Fatal(err)
	}
	if bind {
		if err := harness.ApplyRBAC(ctx, cp, env.root); err != nil {
			t.Fatal(err)
		}
	}
	x.kubeconfig = filepath.Join(t.TempDir(), "coredns.kubeconfig")
	if err := cp.WriteKubeconfig(x.kubeconfig, controlplane.CoreDNS); err != nil {
		t.Fatal(err)
	}
	return x
}

// startCoreDNS starts a CoreDNS for the secondary cluster: multicluster with ready and
// prometheus, and example.org from the file plugin.
func (x *secondary) startCoreDNS(t *testing.T) {
	t.Helper()
	ports, err := harness.FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	x.port, x.readyPort, x.metricsP = ports[0], ports[1], ports[2]
	dir := t.TempDir()
	if err := writeZoneFiles(dir); err != nil {
		t.Fatal(err)
	}
	corefile := fmt.Sprintf(`.:%[1]d {
    bind 127.0.0.1
    errors
    ready 127.0.0.1:%[2]d
    prometheus 127.0.0.1:%[3]d
    multicluster clusterset.local {
        kubeconfig %[4]s
    }
}
example.org:%[1]d {
    bind 127.0.0.1
    file %[5]s
}
`, x.port, x.readyPort, x.metricsP, x.kubeconfig, filepath.Join(dir, "example.org.zone"))
	begin := time.Now()
	x.dns, err = startCoreDNS(context.Background(), dir, x.port, corefile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.dns.Kill() })
	dumpLogOnFailure(t, x.dns)
	t.Logf("CoreDNS answering in %s", time.Since(begin).Round(time.Millisecond))
}
