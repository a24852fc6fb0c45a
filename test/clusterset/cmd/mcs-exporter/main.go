// Command mcs-exporter runs the ClusterSet's MCS agent (package exporter) against real
// clusters: one kubeconfig, one context per cluster, named after the cluster.
//
//	mcs-exporter -kubeconfig clusterset.kubeconfig -clusters east,west
//
// It runs until SIGINT or SIGTERM and exits non-zero when it cannot start (a context missing,
// a cluster that does not serve the MCS CRDs).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	mcsclient "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned"

	"github.com/mcs-dns/multicluster/test/clusterset/exporter"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig file with one context per cluster, named after it (required)")
	clusters := flag.String("clusters", "", "comma-separated cluster names, e.g. east,west (required)")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)

	if err := run(*kubeconfig, *clusters); err != nil {
		log.Printf("mcs-exporter: %v", err)
		os.Exit(1)
	}
}

func run(kubeconfig, names string) error {
	if kubeconfig == "" || names == "" {
		flag.Usage()
		return errors.New("-kubeconfig and -clusters are required")
	}
	var clusters []exporter.Cluster
	for _, name := range strings.Split(names, ",") {
		c, err := clusterFrom(kubeconfig, strings.TrimSpace(name))
		if err != nil {
			return err
		}
		clusters = append(clusters, c)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log.Printf("mcs-exporter: starting for %s", names)
	return exporter.Run(ctx, clusters, log.Printf)
}

// clusterFrom builds the clients of the context called name.
func clusterFrom(kubeconfig, name string) (exporter.Cluster, error) {
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: name},
	).ClientConfig()
	if err != nil {
		return exporter.Cluster{}, fmt.Errorf("cluster %q: %w", name, err)
	}
	// A burst of changes (a Deployment scaled past 100 endpoints, a namespace of exports)
	// writes to every cluster at once; client-go's default of 5 QPS would queue it for seconds.
	cfg.QPS, cfg.Burst = 100, 200
	cfg.UserAgent = "mcs-exporter/" + name
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return exporter.Cluster{}, fmt.Errorf("cluster %q: %w", name, err)
	}
	mcs, err := mcsclient.NewForConfig(cfg)
	if err != nil {
		return exporter.Cluster{}, fmt.Errorf("cluster %q: %w", name, err)
	}
	return exporter.Cluster{Name: name, Kube: kube, MCS: mcs}, nil
}
