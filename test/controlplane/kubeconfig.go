package controlplane

import (
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

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
