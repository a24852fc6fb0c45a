package node

import (
	"path/filepath"

	"github.com/mcs-dns/multicluster/test/controlplane"
)

// StartScheduler runs kube-scheduler (from binDir) against the cluster of kubeconfig: what places
// the pods of Deployments on the node. It serves nothing (--secure-port=0) and runs alone
// (--leader-elect=false). Stop it with the Daemon's Stop.
func StartScheduler(binDir, kubeconfig, logPath string) (*controlplane.Daemon, error) {
	return controlplane.StartDaemon("kube-scheduler", filepath.Join(binDir, "kube-scheduler"), []string{
		"--kubeconfig", kubeconfig,
		"--authentication-kubeconfig", kubeconfig,
		"--authorization-kubeconfig", kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
		"--v=1",
	}, logPath, false)
}
