package harness

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/mcs-dns/multicluster/test/controlplane"
)

// Manifest is one document of a file in deploy/.
type Manifest struct {
	File string
	JSON []byte
	Obj  *unstructured.Unstructured
}

// LoadManifests parses every YAML document of deploy/*.yaml.
func LoadManifests(root string) ([]Manifest, error) {
	files, err := filepath.Glob(filepath.Join(root, "deploy", "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no manifests in %s", filepath.Join(root, "deploy"))
	}
	sort.Strings(files)
	var out []Manifest
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for i, doc := range splitYAML(data) {
			js, err := yaml.YAMLToJSON(doc)
			if err != nil {
				return nil, fmt.Errorf("%s document %d: %w", f, i+1, err)
			}
			if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
				continue // only comments
			}
			obj := &unstructured.Unstructured{}
			if err := obj.UnmarshalJSON(js); err != nil {
				return nil, fmt.Errorf("%s document %d: %w", f, i+1, err)
			}
			out = append(out, Manifest{File: filepath.Base(f), JSON: js, Obj: obj})
		}
	}
	return out, nil
}

// splitYAML splits a multi-document YAML file at its "---" lines.
func splitYAML(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if strings.TrimRight(string(line), " \r\n") == "---" {
			docs = append(docs, append([]byte(nil), cur.Bytes()...))
			cur.Reset()
			continue
		}
		cur.Write(line)
	}
	return append(docs, cur.Bytes())
}

// FindManifest returns the document of kind and name.
func FindManifest(ms []Manifest, kind, name string) (Manifest, error) {
	for _, m := range ms {
		if m.Obj.GetKind() == kind && m.Obj.GetName() == name {
			return m, nil
		}
	}
	return Manifest{}, fmt.Errorf("deploy/ has no %s %s", kind, name)
}

// Names of deploy/'s ClusterRole and ClusterRoleBinding.
const (
	ClusterRoleName = "system:coredns-multicluster"
	BindingName     = "system:coredns-multicluster"
)

// ApplyRBAC creates deploy/'s ClusterRole and ClusterRoleBinding (and the ServiceAccount
// they name) for real, so the coredns identity has exactly what deploy/ grants.
func ApplyRBAC(ctx context.Context, cp *controlplane.ControlPlane, root string) error {
	ms, err := LoadManifests(root)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cp.AdminConfig())
	if err != nil {
		return err
	}
	m, err := FindManifest(ms, "ClusterRole", ClusterRoleName)
	if err != nil {
		return err
	}
	var role rbacv1.ClusterRole
	if err := yaml.Unmarshal(m.JSON, &role); err != nil {
		return err
	}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, &role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating ClusterRole from deploy/%s: %w", m.File, err)
	}
	if m, err = FindManifest(ms, "ClusterRoleBinding", BindingName); err != nil {
		return err
	}
	var binding rbacv1.ClusterRoleBinding
	if err := yaml.Unmarshal(m.JSON, &binding); err != nil {
		return err
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating ClusterRoleBinding from deploy/%s: %w", m.File, err)
	}
	return nil
}
