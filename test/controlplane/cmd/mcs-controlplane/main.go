// Command mcs-controlplane starts and stops a detached local control plane (etcd and
// kube-apiserver) for the demo:
//
//	mcs-controlplane up     [-dir DIR] [-crds both|v1alpha1|v1beta1|none]
//	mcs-controlplane status [-dir DIR]
//	mcs-controlplane down   [-dir DIR]
//
// up writes DIR/admin.kubeconfig and DIR/coredns.kubeconfig; DIR defaults to <repo>/.demo.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mcs-dns/multicluster/test/controlplane"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmd := os.Args[1]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	dir := fs.String("dir", "", "work directory (default <repo>/.demo)")
	crds := fs.String("crds", "both", "MCS CRD versions to serve: both, v1alpha1, v1beta1 or none")
	_ = fs.Parse(os.Args[2:])

	if *dir == "" {
		root, err := controlplane.RepoRoot()
		if err != nil {
			fail(err)
		}
		*dir = filepath.Join(root, ".demo")
	}

	var err error
	switch cmd {
	case "up":
		err = up(*dir, *crds)
	case "down":
		err = controlplane.StopFromPIDFile(*dir)
		if err == nil {
			fmt.Printf("control plane in %s stopped\n", *dir)
		}
	case "status":
		err = status(*dir)
	default:
		usage()
	}
	if err != nil {
		fail(err)
	}
}

func up(dir, crds string) error {
	opts := controlplane.Options{WorkDir: dir, Detach: true}
	switch crds {
	case "both":
		opts.CRDs = controlplane.BothVersions
	case "v1alpha1":
		opts.CRDs = controlplane.OnlyV1alpha1
	case "v1beta1":
		opts.CRDs = controlplane.OnlyV1beta1
	case "none":
		opts.SkipCRDs = true
	default:
		return fmt.Errorf("-crds: unknown value %q (want both, v1alpha1, v1beta1 or none)", crds)
	}

	begin := time.Now()
	cp, err := controlplane.Start(context.Background(), opts)
	if err != nil {
		return err
	}
	admin := filepath.Join(cp.Dir(), "admin.kubeconfig")
	coredns := filepath.Join(cp.Dir(), "coredns.kubeconfig")
	for path, u := range map[string]controlplane.User{admin: controlplane.Admin, coredns: controlplane.CoreDNS} {
		if err := cp.WriteKubeconfig(path, u); err != nil {
			_ = cp.Stop()
			return err
		}
	}
	etcdPID, apiPID := cp.PIDs()
	fmt.Printf("control plane ready in %s: %s (MCS CRDs: %s)\n", time.Since(begin).Round(time.Millisecond), cp.Host(), crds)
	fmt.Printf("  etcd pid %d, kube-apiserver pid %d; logs in %s\n", etcdPID, apiPID, cp.Dir())
	fmt.Printf("  admin kubeconfig:   %s\n", admin)
	fmt.Printf("  coredns kubeconfig: %s  (user %s)\n", coredns, controlplane.CoreDNSUserName)
	fmt.Printf("  stop it with: mcs-controlplane down -dir %s\n", cp.Dir())
	return nil
}

func status(dir string) error {
	cp, err := controlplane.Attach(dir)
	if os.IsNotExist(err) {
		fmt.Printf("no control plane recorded in %s\n", dir)
		return nil
	}
	if err != nil {
		return err
	}
	etcdPID, apiPID := cp.PIDs()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := cp.WaitReady(ctx); err != nil {
		return fmt.Errorf("control plane in %s (etcd pid %d, kube-apiserver pid %d) not ready: %w", dir, etcdPID, apiPID, err)
	}
	fmt.Printf("control plane in %s ready: %s (etcd pid %d, kube-apiserver pid %d)\n", dir, cp.Host(), etcdPID, apiPID)
	return nil
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: mcs-controlplane up|status|down [-dir DIR] [-crds both|v1alpha1|v1beta1|none]")
	os.Exit(2)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "mcs-controlplane:", err)
	os.Exit(1)
}
