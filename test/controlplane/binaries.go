package controlplane

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ModulePath is the root module's path; RepoRoot looks for its go.mod.
const ModulePath = "github.com/mcs-dns/multicluster"

// ErrBinaryNotFound is returned (wrapped) by Start when etcd or kube-apiserver cannot be found.
var ErrBinaryNotFound = errors.New("control plane binary not found (run hack/ensure-tools.sh)")

// RepoRoot finds the root of the repository: the nearest directory, from the working directory
// up, whose go.mod declares ModulePath.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modulePath(data) == ModulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module %s above the working directory", ModulePath)
		}
		dir = parent
	}
}

func modulePath(gomod []byte) string {
	for _, line := range strings.Split(string(gomod), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module"); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// findBinaries resolves the kube-apiserver and etcd binaries as documented on Options. A binary
// named explicitly (option or environment) must exist: there is no fallback past it.
func findBinaries(o Options) (apiserver, etcd string, err error) {
	binDir := o.BinDir
	if binDir == "" {
		if root, err := RepoRoot(); err == nil {
			binDir = filepath.Join(root, ".cache", "bin")
		}
	}
	inBinDir := func(name string) string {
		if binDir == "" {
			return ""
		}
		return filepath.Join(binDir, name)
	}

	var candidates []string
	switch {
	case o.KubeAPIServer != "":
		candidates = []string{o.KubeAPIServer}
	case os.Getenv("MCS_KUBE_APISERVER_BIN") != "":
		candidates = []string{os.Getenv("MCS_KUBE_APISERVER_BIN")}
	default:
		// No PATH fallback for kube-apiserver: a stray one of another version would be used silently.
		candidates = []string{inBinDir("kube-apiserver")}
	}
	var missing []string
	if apiserver = executable(candidates); apiserver == "" {
		missing = append(missing, fmt.Sprintf("kube-apiserver (looked at %q)", candidates))
	}

	switch {
	case o.Etcd != "":
		candidates = []string{o.Etcd}
	case os.Getenv("MCS_ETCD_BIN") != "":
		candidates = []string{os.Getenv("MCS_ETCD_BIN")}
	default:
		onPath, _ := exec.LookPath("etcd")
		candidates = []string{inBinDir("etcd"), onPath}
	}
	if etcd = executable(candidates); etcd == "" {
		missing = append(missing, fmt.Sprintf("etcd (looked at %q and PATH)", candidates))
	}

	if len(missing) > 0 {
		return "", "", fmt.Errorf("%w: %s", ErrBinaryNotFound, strings.Join(missing, "; "))
	}
	return apiserver, etcd, nil
}

// executable returns the absolute path of the first candidate that is an executable file.
func executable(candidates []string) string {
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if st, err := os.Stat(c); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			if abs, err := filepath.Abs(c); err == nil {
				return abs
			}
			return c
		}
	}
	return ""
}
