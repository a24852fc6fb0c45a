package multicluster

import (
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"

	"github.com/mcs-dns/multicluster/internal/object"
	"github.com/mcs-dns/multicluster/internal/zone"
)

// Builders for the API objects an MCS controller writes, used by the unit tests.

func sp(name string, proto corev1.Protocol, number int32) mcsv1beta1.ServicePort {
	return mcsv1beta1.ServicePort{Name: name, Protocol: proto, Port: number}
}

func families(f ...corev1.IPFamily) []corev1.IPFamily { return f }

var (
	v4 = corev1.IPv4Protocol
	v6 = corev1.IPv6Protocol
)

func clusterSetIP(ns, name string, ips []string, fams []corev1.IPFamily, ports ...mcsv1beta1.ServicePort) *mcsv1beta1.ServiceImport {
	return &mcsv1beta1.ServiceImport{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       mcsv1beta1.ServiceImportSpec{Type: mcsv1beta1.ClusterSetIP, IPs: ips, IPFamilies: fams, Ports: ports},
	}
}

func headlessImport(ns, name string, fams []corev1.IPFamily, ports ...mcsv1beta1.ServicePort) *mcsv1beta1.ServiceImport {
	return &mcsv1beta1.ServiceImport{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       mcsv1beta1.ServiceImportSpec{Type: mcsv1beta1.Headless, IPFamilies: fams, Ports: ports},
	}
}

func alphaImport(ns, name string, ips ...string) *mcsv1alpha1.ServiceImport {
	return &mcsv1alpha1.ServiceImport{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.ClusterSetIP, IPs: ips,
			Ports: []mcsv1alpha1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80}}},
	}
}

// ep is an endpoint: a hostname (may be empty), its addresses, and its conditions.
type ep struct {
	host        string
	addrs       []string
	ready       *bool
	terminating bool
}

func ready(host string, addrs ...string) ep { return ep{host: host, addrs: addrs} }

func notReady(host string, addrs ...string) ep {
	f := false
	return ep{host: host, addrs: addrs, ready: &f}
}

func terminating(host string, addrs ...string) ep {
	f := false
	return ep{host: host, addrs: addrs, ready: &f, terminating: true}
}

func explicitlyReady(host string, addrs ...string) ep {
	t := true
	return ep{host: host, addrs: addrs, ready: &t}
}

type epPort struct {
	name   string
	proto  corev1.Protocol
	number int32
}

// slice builds an EndpointSlice of service svc from cluster (no label when cluster
// is "").
func slice(ns, name, svc, cluster string, at discovery.AddressType, ports []epPort, eps ...ep) *discovery.EndpointSlice {
	labels := map[string]string{object.LabelServiceName: svc}
	if cluster != "" {
		labels[object.LabelSourceCluster] = cluster
	}
	es := &discovery.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		AddressType: at,
	}
	for _, p := range ports {
		p := p
		es.Ports = append(es.Ports, discovery.EndpointPort{Name: &p.name, Protocol: &p.proto, Port: &p.number})
	}
	for _, e := range eps {
		d := discovery.Endpoint{Addresses: e.addrs, Conditions: discovery.EndpointConditions{Ready: e.ready}}
		if e.terminating {
			t := true
			d.Conditions.Terminating = &t
		}
		if e.host != "" {
			h := e.host
			d.Hostname = &h
		}
		es.Endpoints = append(es.Endpoints, d)
	}
	return es
}

var tcp5432 = []epPort{{"tcp", corev1.ProtocolTCP, 5432}}

// load builds the index of m from API objects the way the controller does: through
// the informer transforms, grouped by service.
func load(t testing.TB, m *MultiCluster, objs ...any) {
	t.Helper()
	imports := map[object.ServiceKey]*object.ServiceImport{}
	slices := map[object.ServiceKey][]*object.EndpointSlice{}
	for _, o := range objs {
		switch o.(type) {
		case *discovery.EndpointSlice:
			tr, _ := object.TransformSlice(o)
			s := tr.(*object.EndpointSlice)
			k := object.ServiceKey{Namespace: s.Namespace, Name: s.Service}
			slices[k] = append(slices[k], s)
		default:
			tr, _ := object.TransformImport(o)
			si, ok := tr.(*object.ServiceImport)
			if !ok {
				t.Fatalf("unexpected object %T", o)
			}
			imports[object.ServiceKey{Namespace: si.Namespace, Name: si.Name}] = si
		}
	}
	for k, si := range imports {
		if m.ctrl != nil {
			m.ctrl.unlisted.report(k, si, slices[k])
		}
		m.index.Publish(k, zone.BuildLocal(si, slices[k], m.longestZone(), m.loc.localFor(si), func(string, string) {}))
	}
}

// syncedPlugin returns a plugin for clusterset.local whose watches count as synced.
func syncedPlugin(zones ...string) *MultiCluster { return syncedPluginAt(time.Now, zones...) }

// syncedPluginAt is syncedPlugin with the serial's clock now.
func syncedPluginAt(now func() time.Time, zones ...string) *MultiCluster {
	if len(zones) == 0 {
		zones = []string{"clusterset.local."}
	}
	m := newPlugin(zones, zone.NewIndex(now))
	m.nsAddrs = []netip.Addr{netip.MustParseAddr("10.96.0.10")}
	m.setNSAddrs()
	m.ctrl = newController(nil, nil, m.index, m.longestZone())
	m.ctrl.state.Store(int32(stateSynced))
	m.ctrl.ready.Store(true)
	return m
}
