package controlplane

import (
	"context"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Identities in the static token file.
const (
	// AdminUserName is the cluster administrator (group system:masters).
	AdminUserName = "admin"
	// CoreDNSUserName is the identity CoreDNS runs as: what the coredns ServiceAccount in
	// kube-system would be. RBAC subjects of kind ServiceAccount (kube-system/coredns) match it,
	// as do subjects of kind User with this name.
	CoreDNSUserName = "system:serviceaccount:kube-system:coredns"
)

// Groups of the two identities.
var (
	AdminGroups   = []string{"system:masters", "system:authenticated"}
	CoreDNSGroups = []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"}
)

// User selects one of the two identities of the control plane.
type User string

// The identities, for WriteKubeconfig and Config.
const (
	Admin   User = "admin"
	CoreDNS User = "coredns"
)

// AdminToken is the bearer token of AdminUserName (system:masters).
func (c *ControlPlane) AdminToken() string { return c.adminToken }

// CoreDNSToken is the bearer token of CoreDNSUserName.
func (c *ControlPlane) CoreDNSToken() string { return c.corednsToken }

// Token returns the bearer token of u.
func (c *ControlPlane) Token(u User) string {
	if u == CoreDNS {
		return c.corednsToken
	}
	return c.adminToken
}

// Config returns a client configuration for u.
func (c *ControlPlane) Config(u User) *rest.Config {
	cfg := &rest.Config{
		Host:            c.Host(),
		BearerToken:     c.Token(u),
		TLSClientConfig: rest.TLSClientConfig{CAData: append([]byte(nil), c.caPEM...)},
	}
	if u == Admin {
		// Test set-up creates many objects quickly; client-go's default 5 QPS would throttle it.
		cfg.QPS, cfg.Burst = 500, 1000
	}
	return cfg
}

// AdminConfig is a client configuration for AdminUserName (system:masters).
func (c *ControlPlane) AdminConfig() *rest.Config { return c.Config(Admin) }

// CoreDNSConfig is a client configuration for CoreDNSUserName, with client-go's default limits.
func (c *ControlPlane) CoreDNSConfig() *rest.Config { return c.Config(CoreDNS) }

// WriteKubeconfig writes a kubeconfig file for u at path: the API server's URL, the CA embedded,
// u's bearer token, and one context, current. CoreDNS's kubernetes-style plugins and kubectl both
// read it.
func (c *ControlPlane) WriteKubeconfig(path string, u User) error {
	cfg := clientcmdapi.NewConfig()
	cluster := clientcmdapi.NewCluster()
	cluster.Server = c.Host()
	cluster.CertificateAuthorityData = append([]byte(nil), c.caPEM...)
	cfg.Clusters["mcs-local"] = cluster

	auth := clientcmdapi.NewAuthInfo()
	auth.Token = c.Token(u)
	cfg.AuthInfos[string(u)] = auth

	kctx := clientcmdapi.NewContext()
	kctx.Cluster = "mcs-local"
	kctx.AuthInfo = string(u)
	cfg.Contexts[string(u)] = kctx
	cfg.CurrentContext = string(u)

	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return clientcmd.WriteToFile(*cfg, path)
}

// Namespace creates the namespace name; it is not an error if it exists.
func (c *ControlPlane) Namespace(ctx context.Context, name string) error {
	cs, err := kubernetes.NewForConfig(c.AdminConfig())
	if err != nil {
		return err
	}
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
