package clusterset

import (
	"context"

	corev1 "k8s.io/api/core/v1"
)

// SampleNamespace is where LoadSample puts its workloads, in every cluster.
const SampleNamespace = "shop"

// LoadSample creates, in every cluster, a Deployment-like set "web" (2 pods) behind a
// ClusterSetIP Service and a StatefulSet-like set "db" (2 pods, hostnames db-0, db-1) behind
// a headless Service, and in west a dual-stack Service "dual" (2 pods); then exports them all.
func (cs *ClusterSet) LoadSample(ctx context.Context) error {
	ns := SampleNamespace
	web := Set{Namespace: ns, App: "web"}
	db := Set{Namespace: ns, App: "db", Stateful: true, Service: "db"}
	dual := Set{Namespace: ns, App: "dual"}
	for _, c := range cs.Clusters {
		if err := c.Namespace(ctx, ns); err != nil {
			return err
		}
		services := []ServiceSpec{
			{Namespace: ns, Name: "web", Selector: web, Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80}}},
			{Namespace: ns, Name: "db", Selector: db, Headless: true, Ports: []corev1.ServicePort{{Name: "pg", Protocol: corev1.ProtocolTCP, Port: 5432}}},
		}
		sets := []Set{web, db}
		if len(c.ServiceCIDRs) == 2 {
			services = append(services, ServiceSpec{Namespace: ns, Name: "dual", Selector: dual, DualStack: true,
				Ports: []corev1.ServicePort{{Name: "grpc", Protocol: corev1.ProtocolTCP, Port: 9090}}})
			sets = append(sets, dual)
		}
		for _, s := range sets {
			if _, err := c.Scale(ctx, s, 2); err != nil {
				return err
			}
		}
		for _, s := range services {
			if _, err := c.CreateService(ctx, s); err != nil {
				return err
			}
			if err := c.Export(ctx, ns, s.Name); err != nil {
				return err
			}
		}
	}
	return nil
}
