package multicluster

import (
	"context"
	"testing"

	"github.com/miekg/dns"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"
)

// TestUnlistedClusterLoggedOncePerAppearance: a slice from a cluster that
// status.clusters does not list is logged once while it is served; once the slice or
// the service goes, the plugin forgets it (no memory kept for deleted services), so a
// slice that comes back is logged again.
func TestUnlistedClusterLoggedOncePerAppearance(t *testing.T) {
	logs := captureLog(t)
	f := newFakeCluster("v1beta1")
	m := startPlugin(t, f)
	ctx := context.TODO()
	imports := f.mcs.MulticlusterV1beta1().ServiceImports("shop")
	slices := f.kube.DiscoveryV1().EndpointSlices("shop")
	si := headlessImport("shop", "db", nil, sp("pg", tcp, 5432))
	si.Status.Clusters = []mcsv1beta1.ClusterStatus{{Cluster: "c1"}}
	c1 := slice("shop", "db-c1", "db", "c1", ipv4, pgPorts, ready("db-0", "10.1.0.10"))
	c2 := slice("shop", "db-c2", "db", "c2", ipv4, pgPorts, ready("db-0", "10.2.0.10"))
	const line = `comes from cluster "c2"`
	steps := []struct {
		what  string
		do    func() error
		want  []string // the A answer once the step is applied
		lines int      // log lines about c2 so far
	}{
		{"import and both slices", func() error {
			if _, err := imports.Create(ctx, si, metav1.CreateOptions{}); err != nil {
				return err
			}
			if _, err := slices.Create(ctx, c1, metav1.CreateOptions{}); err != nil {
				return err
			}
			_, err := slices.Create(ctx, c2, metav1.CreateOptions{})
			return err
		}, []string{"10.1.0.10", "10.2.0.10"}, 1},
		{"c2's slice changes", func() error {
			c2.Endpoints = append(c2.Endpoints, c1.Endpoints[0])
			c2.Endpoints[1].Addresses = []string{"10.2.0.11"}
			_, err := slices.Update(ctx, c2, metav1.UpdateOptions{})
			return err
		}, []string{"10.1.0.10", "10.2.0.10", "10.2.0.11"}, 1},
		{"c2's slice goes", func() error { return slices.Delete(ctx, "db-c2", metav1.DeleteOptions{}) }, []string{"10.1.0.10"}, 1},
		{"c2's slice comes back", func() error {
			c2.ResourceVersion = ""
			_, err := slices.Create(ctx, c2, metav1.CreateOptions{})
			return err
		}, []string{"10.1.0.10", "10.2.0.10", "10.2.0.11"}, 2},
		{"the service goes", func() error { return imports.Delete(ctx, "db", metav1.DeleteOptions{}) }, nil, 2},
		{"the service comes back", func() error {
			si.ResourceVersion = ""
			_, err := imports.Create(ctx, si, metav1.CreateOptions{})
			return err
		}, []string{"10.1.0.10", "10.2.0.10", "10.2.0.11"}, 3},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		rcode := dns.RcodeSuccess
		if s.want == nil {
			rcode = dns.RcodeNameError
		}
		eventually(t, s.what, answers(t, m, dbName, dns.TypeA, rcode, s.want...))
		if got := logs.count(line); got != s.lines {
			t.Errorf("after %s: %d log lines about c2, want %d", s.what, got, s.lines)
		}
	}
}
