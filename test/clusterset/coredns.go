package clusterset

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	"github.com/mcs-dns/multicluster/test/controlplane"
	"github.com/mcs-dns/multicluster/test/internal/harness"
)

// CoreDNS runs in every cluster as deploy/rbac.yaml's ServiceAccount kube-system/coredns,
// authenticated by a token of that account (TokenRequest API), never with the
// administrator's credentials: what it may read is what deploy/ grants.
const (
	corednsNamespace = "kube-system"
	corednsAccount   = "coredns"
	// tokenLifetime outlasts any test and a working day of make clusterset.
	tokenLifetime = 48 * time.Hour
)

// Corefile is deploy/configmap.yaml's server block on loopback ports, with the kubeconfig
// and the cluster id; no forward (nothing leaves the machine) and no cache (answers follow
// changes at once).
const corefileTemplate = `# CoreDNS of cluster %[1]s: deploy/configmap.yaml's block, on loopback.
.:%[2]d {
    bind 127.0.0.1
    errors
    ready 127.0.0.1:%[3]d
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig %[4]s
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    multicluster clusterset.local {
        kubeconfig %[4]s
        cluster_id %[1]s
    }
}
`

// startCoreDNS gives the cluster deploy/rbac.yaml's identity and rules, writes a kubeconfig
// with a token of that identity and starts bin/coredns with it; it returns once the ready
// plugin says the plugins have synced.
func (c *Cluster) startCoreDNS(ctx context.Context, detach bool, port int) error {
	root, err := controlplane.RepoRoot()
	if err != nil {
		return err
	}
	if err := c.applyServiceAccount(ctx, root); err != nil {
		return err
	}
	if err := harness.ApplyRBAC(ctx, c.CP, root); err != nil {
		return err
	}
	dir := filepath.Join(c.Dir, "coredns")
	kubeconfig := filepath.Join(dir, "coredns.kubeconfig")
	if err := c.writeCoreDNSKubeconfig(ctx, kubeconfig); err != nil {
		return err
	}
	ports, err := harness.FreePorts(2)
	if err != nil {
		return err
	}
	if port == 0 {
		port = ports[1]
	}
	readyPort := ports[0]
	c.DNS, err = harness.Start(ctx, harness.Options{
		Dir:      dir,
		Port:     port,
		Corefile: fmt.Sprintf(corefileTemplate, c.Name, port, readyPort, kubeconfig),
		Detach:   detach,
		Wait:     30 * time.Second,
	})
	if err != nil {
		return err
	}
	if err := waitReady(ctx, readyPort, 30*time.Second); err != nil {
		return fmt.Errorf("%w; CoreDNS log %s:\n%s", err, c.DNS.LogPath, c.DNS.LogTail(20))
	}
	return nil
}

// applyServiceAccount creates deploy/rbac.yaml's ServiceAccount.
func (c *Cluster) applyServiceAccount(ctx context.Context, root string) error {
	ms, err := harness.LoadManifests(root)
	if err != nil {
		return err
	}
	m, err := harness.FindManifest(ms, "ServiceAccount", corednsAccount)
	if err != nil {
		return err
	}
	var sa corev1.ServiceAccount
	if err := yaml.Unmarshal(m.JSON, &sa); err != nil {
		return fmt.Errorf("deploy/%s: %w", m.File, err)
	}
	if sa.Namespace != corednsNamespace {
		return fmt.Errorf("deploy/%s: ServiceAccount %s is in namespace %q, want %s", m.File, sa.Name, sa.Namespace, corednsNamespace)
	}
	_, err = c.Clients.Kube.CoreV1().ServiceAccounts(sa.Namespace).Create(ctx, &sa, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating ServiceAccount from deploy/%s: %w", m.File, err)
	}
	return nil
}

// writeCoreDNSKubeconfig asks the API server for a token of kube-system/coredns and writes
// a kubeconfig that uses it.
func (c *Cluster) writeCoreDNSKubeconfig(ctx context.Context, path string) error {
	secs := int64(tokenLifetime / time.Second)
	tr, err := c.Clients.Kube.CoreV1().ServiceAccounts(corednsNamespace).CreateToken(ctx, corednsAccount,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &secs}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("TokenRequest for %s/%s: %w", corednsNamespace, corednsAccount, err)
	}
	cfg := clientcmdapi.NewConfig()
	cluster := clientcmdapi.NewCluster()
	cluster.Server = c.CP.Host()
	cluster.CertificateAuthorityData = c.CP.CACert()
	cfg.Clusters[c.Name] = cluster
	auth := clientcmdapi.NewAuthInfo()
	auth.Token = tr.Status.Token
	cfg.AuthInfos[corednsAccount] = auth
	kctx := clientcmdapi.NewContext()
	kctx.Cluster, kctx.AuthInfo = c.Name, corednsAccount
	cfg.Contexts[c.Name] = kctx
	cfg.CurrentContext = c.Name
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return clientcmd.WriteToFile(*cfg, path)
}

// waitReady polls CoreDNS's ready plugin until it answers 200.
func waitReady(ctx context.Context, port int, timeout time.Duration) error {
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/ready"
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
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
