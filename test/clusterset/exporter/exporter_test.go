package exporter

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"
)

var t0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// TestExportCreatesImports exports one Service from east and checks the ServiceImport in both
// clusters and the ServiceExport's conditions.
func TestExportCreatesImports(t *testing.T) {
	tests := []struct {
		name string
		svc  *corev1.Service
		want mcsv1beta1.ServiceImportSpec
	}{{
		name: "ClusterSetIP",
		svc: service("web", func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{
				{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, AppProtocol: ptrTo("http")},
				{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53},
			}
			s.Spec.TrafficDistribution = ptrTo(corev1.ServiceTrafficDistributionPreferClose)
			s.Spec.InternalTrafficPolicy = ptrTo(corev1.ServiceInternalTrafficPolicyCluster)
		}),
		want: mcsv1beta1.ServiceImportSpec{
			Type: mcsv1beta1.ClusterSetIP,
			Ports: []mcsv1beta1.ServicePort{
				{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, AppProtocol: ptrTo("http")},
				{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53},
			},
			IPFamilies:            []corev1.IPFamily{corev1.IPv4Protocol},
			SessionAffinity:       corev1.ServiceAffinityNone,
			InternalTrafficPolicy: ptrTo(corev1.ServiceInternalTrafficPolicyCluster),
			TrafficDistribution:   ptrTo(corev1.ServiceTrafficDistributionPreferClose),
		},
	}, {
		name: "dual-stack with session affinity",
		svc: service("dual", func(s *corev1.Service) {
			s.Spec.ClusterIPs = []string{"10.96.0.10", "fd00::10"}
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol, corev1.IPv4Protocol}
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptrTo[int32](60)}}
		}),
		want: mcsv1beta1.ServiceImportSpec{
			Type:                  mcsv1beta1.ClusterSetIP,
			Ports:                 []mcsv1beta1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80}},
			IPFamilies:            []corev1.IPFamily{corev1.IPv6Protocol, corev1.IPv4Protocol},
			SessionAffinity:       corev1.ServiceAffinityClientIP,
			SessionAffinityConfig: &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptrTo[int32](60)}},
		},
	}, {
		name: "Headless",
		svc: service("db", func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = corev1.ClusterIPNone, []string{corev1.ClusterIPNone}
			s.Spec.Ports = []corev1.ServicePort{{Name: "pg", Port: 5432}} // protocol left to the default
		}),
		want: mcsv1beta1.ServiceImportSpec{
			Type:            mcsv1beta1.Headless,
			Ports:           []mcsv1beta1.ServicePort{{Name: "pg", Protocol: corev1.ProtocolTCP, Port: 5432}},
			IPFamilies:      []corev1.IPFamily{corev1.IPv4Protocol},
			SessionAffinity: corev1.ServiceAffinityNone,
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			east := newFakeCluster("east", tc.svc, export(tc.svc.Name, t0))
			west := newFakeCluster("west")
			runExporter(t, east, west)

			for _, f := range []*fakeCluster{east, west} {
				eventually(t, f.name+" import", func() error {
					si, err := f.getImport(tc.svc.Name)
					if err != nil {
						return err
					}
					if !apiequality.Semantic.DeepEqual(si.Spec, tc.want) {
						return fmt.Errorf("spec = %+v, want %+v", si.Spec, tc.want)
					}
					if got := si.Status.Clusters; len(got) != 1 || got[0].Cluster != "east" {
						return fmt.Errorf("status.clusters = %v, want [east]", got)
					}
					if si.Labels[labelManagedBy] != ManagedBy {
						return fmt.Errorf("labels = %v, want the exporter's", si.Labels)
					}
					if _, ok := si.Labels[mcsv1beta1.LabelSourceCluster]; ok {
						return fmt.Errorf("the aggregated import carries a source-cluster label: %v", si.Labels)
					}
					return nil
				})
			}
			eventually(t, "export conditions", func() error {
				return wantConditions(east, tc.svc.Name, map[mcsv1beta1.ServiceExportConditionType]metav1.ConditionStatus{
					mcsv1beta1.ServiceExportConditionValid:    metav1.ConditionTrue,
					mcsv1beta1.ServiceExportConditionReady:    metav1.ConditionTrue,
					mcsv1beta1.ServiceExportConditionConflict: metav1.ConditionFalse,
				})
			})
		})
	}
}

// wantConditions checks the status of the given conditions of f's ServiceExport name.
func wantConditions(f *fakeCluster, name string, want map[mcsv1beta1.ServiceExportConditionType]metav1.ConditionStatus) error {
	se, err := f.getExport(name)
	if err != nil {
		return err
	}
	for typ, status := range want {
		c := meta.FindStatusCondition(se.Status.Conditions, string(typ))
		if c == nil || c.Status != status {
			return fmt.Errorf("%s: condition %s = %+v, want %s", f.name, typ, c, status)
		}
	}
	return nil
}

// wantCopies checks that f holds exactly the copies of the given source slices (by source
// cluster), with the source's endpoints, ports and address type, the MCS labels and none of
// kube-controller-manager's metadata.
func wantCopies(f *fakeCluster, svc string, sources map[string][]*discoveryv1.EndpointSlice) error {
	have, err := f.copies(svc)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for cluster, srcs := range sources {
		for _, src := range srcs {
			name := copyName(cluster, src.Name)
			want[name] = true
			cp := have[name]
			if cp == nil {
				return fmt.Errorf("%s: no copy %s of %s/%s (have %v)", f.name, name, cluster, src.Name, slices.Sorted(maps.Keys(have)))
			}
			if cp.Labels[mcsv1beta1.LabelServiceName] != svc || cp.Labels[mcsv1beta1.LabelSourceCluster] != cluster ||
				cp.Labels[discoveryv1.LabelManagedBy] != ManagedBy {
				return fmt.Errorf("%s: copy %s labels = %v", f.name, name, cp.Labels)
			}
			if _, ok := cp.Labels[discoveryv1.LabelServiceName]; ok && !strings.HasPrefix(cp.Labels[discoveryv1.LabelServiceName], "derived-") {
				return fmt.Errorf("%s: copy %s keeps kube-controller-manager's service-name label: %v", f.name, name, cp.Labels)
			}
			if len(cp.OwnerReferences) > 0 || len(cp.Annotations) > 0 {
				return fmt.Errorf("%s: copy %s keeps owner references %v or annotations %v", f.name, name, cp.OwnerReferences, cp.Annotations)
			}
			if cp.AddressType != src.AddressType || !apiequality.Semantic.DeepEqual(cp.Endpoints, src.Endpoints) ||
				!apiequality.Semantic.DeepEqual(cp.Ports, src.Ports) {
				return fmt.Errorf("%s: copy %s = %v %+v %+v, want %v %+v %+v", f.name, name,
					cp.AddressType, cp.Endpoints, cp.Ports, src.AddressType, src.Endpoints, src.Ports)
			}
		}
	}
	for name := range have {
		if !want[name] {
			return fmt.Errorf("%s: unexpected copy %s", f.name, name)
		}
	}
	return nil
}

// TestSlicesFollowSource copies east's slices into both clusters and follows
// kube-controller-manager's updates, splits, merges and deletes.
func TestSlicesFollowSource(t *testing.T) {
	east := newFakeCluster("east", service("web"), export("web", t0))
	west := newFakeCluster("west")
	runExporter(t, east, west)

	a := kcmSlice("web", "web-abcde", "10.0.0.1", "10.0.0.2")
	b := kcmSlice("web", "web-fghij", "10.0.0.3")
	steps := []struct {
		name   string
		change func(t *testing.T)
		want   []*discoveryv1.EndpointSlice
	}{
		{"created", func(t *testing.T) { east.create(t, a) }, []*discoveryv1.EndpointSlice{a}},
		{"endpoint not ready", func(t *testing.T) {
			a.Endpoints[1].Conditions = discoveryv1.EndpointConditions{Ready: ptrTo(false), Serving: ptrTo(false), Terminating: ptrTo(true)}
			east.updateSlice(t, a)
		}, []*discoveryv1.EndpointSlice{a}},
		{"split past the slice size", func(t *testing.T) { east.create(t, b) }, []*discoveryv1.EndpointSlice{a, b}},
		{"port renamed", func(t *testing.T) {
			for _, s := range []*discoveryv1.EndpointSlice{a, b} {
				s.Ports[0].Name = ptrTo("web")
				east.updateSlice(t, s)
			}
		}, []*discoveryv1.EndpointSlice{a, b}},
		{"merged back", func(t *testing.T) { east.delete(t, "EndpointSlice", a.Name) }, []*discoveryv1.EndpointSlice{b}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.change(t)
			for _, f := range []*fakeCluster{east, west} {
				eventually(t, f.name+" copies", func() error {
					return wantCopies(f, "web", map[string][]*discoveryv1.EndpointSlice{"east": s.want})
				})
			}
		})
	}
}

// TestLeavesOthersFields checks that the fields the mcs-api servicecontroller writes (spec.ips,
// the derived-service annotation, the kubernetes.io/service-name label of copies) survive the
// exporter's updates.
func TestLeavesOthersFields(t *testing.T) {
	src := kcmSlice("web", "web-abcde", "10.0.0.1")
	svc := service("web")
	east := newFakeCluster("east", svc, export("web", t0), src)
	west := newFakeCluster("west")
	runExporter(t, east, west)
	ctx := context.Background()

	var derived string
	eventually(t, "import and copy in west", func() error {
		si, err := west.getImport("web")
		if err != nil {
			return err
		}
		// What the servicecontroller does: annotate, then write the derived Service's IPs.
		si.Annotations["multicluster.kubernetes.io/derived-service"] = "derived-abc"
		si.Spec.IPs = []string{"10.97.0.5"}
		if _, err := west.mcs.MulticlusterV1beta1().ServiceImports(testNS).Update(ctx, si, metav1.UpdateOptions{}); err != nil {
			return err
		}
		cps, err := west.copies("web")
		if err != nil || len(cps) != 1 {
			return fmt.Errorf("copies %v, %v", cps, err)
		}
		for name, cp := range cps {
			derived = name
			cp.Labels[discoveryv1.LabelServiceName] = "derived-abc"
			_, err = west.kube.DiscoveryV1().EndpointSlices(testNS).Update(ctx, cp, metav1.UpdateOptions{})
		}
		return err
	})

	svc.Spec.Ports[0].Name = "web"
	east.updateService(t, svc)
	src.Endpoints = append(src.Endpoints, kcmSlice("web", "x", "10.0.0.9").Endpoints...)
	east.updateSlice(t, src)

	eventually(t, "west after the changes", func() error {
		si, err := west.getImport("web")
		if err != nil {
			return err
		}
		if si.Spec.Ports[0].Name != "web" {
			return fmt.Errorf("ports = %+v, want the renamed port", si.Spec.Ports)
		}
		if !slices.Equal(si.Spec.IPs, []string{"10.97.0.5"}) || si.Annotations["multicluster.kubernetes.io/derived-service"] != "derived-abc" {
			return fmt.Errorf("the servicecontroller's fields were lost: ips %v, annotations %v", si.Spec.IPs, si.Annotations)
		}
		cps, err := west.copies("web")
		if err != nil {
			return err
		}
		cp := cps[derived]
		if cp == nil || len(cp.Endpoints) != 2 || cp.Labels[discoveryv1.LabelServiceName] != "derived-abc" {
			return fmt.Errorf("copy = %+v", cp)
		}
		return nil
	})

	// Turned Headless, the import keeps the VIPs the servicecontroller wrote: it would not
	// write them again if the Service turned back.
	svc.Spec.ClusterIP, svc.Spec.ClusterIPs = corev1.ClusterIPNone, []string{corev1.ClusterIPNone}
	east.updateService(t, svc)
	eventually(t, "west after turning Headless", func() error {
		si, err := west.getImport("web")
		if err != nil {
			return err
		}
		if si.Spec.Type != mcsv1beta1.Headless || !slices.Equal(si.Spec.IPs, []string{"10.97.0.5"}) {
			return fmt.Errorf("type %s, ips %v", si.Spec.Type, si.Spec.IPs)
		}
		return nil
	})
}

// TestTwoClustersExport exports one service from both clusters, with different ports, then
// unexports it from one and then the other.
func TestTwoClustersExport(t *testing.T) {
	eastSlice, westSlice := kcmSlice("web", "web-aaaaa", "10.0.0.1"), kcmSlice("web", "web-bbbbb", "10.1.0.1")
	east := newFakeCluster("east", service("web"), export("web", t0), eastSlice)
	west := newFakeCluster("west", service("web", func(s *corev1.Service) {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "metrics", Protocol: corev1.ProtocolTCP, Port: 9090})
		s.Spec.ClusterIP, s.Spec.ClusterIPs = corev1.ClusterIPNone, []string{corev1.ClusterIPNone} // loses to east's type
	}), export("web", t0.Add(time.Minute)), westSlice)
	runExporter(t, east, west)
	both := []*fakeCluster{east, west}

	for _, f := range both {
		eventually(t, f.name+" merged import", func() error {
			si, err := f.getImport("web")
			if err != nil {
				return err
			}
			wantPorts := []mcsv1beta1.ServicePort{
				{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80},
				{Name: "metrics", Protocol: corev1.ProtocolTCP, Port: 9090},
			}
			if si.Spec.Type != mcsv1beta1.ClusterSetIP || !apiequality.Semantic.DeepEqual(si.Spec.Ports, wantPorts) {
				return fmt.Errorf("spec = %+v", si.Spec)
			}
			if got := si.Status.Clusters; len(got) != 2 || got[0].Cluster != "east" || got[1].Cluster != "west" {
				return fmt.Errorf("status.clusters = %v", got)
			}
			return wantCopies(f, "web", map[string][]*discoveryv1.EndpointSlice{"east": {eastSlice}, "west": {westSlice}})
		})
		eventually(t, f.name+" conflict reported", func() error {
			return wantConditions(f, "web", map[mcsv1beta1.ServiceExportConditionType]metav1.ConditionStatus{
				mcsv1beta1.ServiceExportConditionValid:    metav1.ConditionTrue,
				mcsv1beta1.ServiceExportConditionConflict: metav1.ConditionTrue,
			})
		})
	}

	east.delete(t, "ServiceExport", "web")
	for _, f := range both {
		eventually(t, f.name+" after east unexports", func() error {
			si, err := f.getImport("web")
			if err != nil {
				return err
			}
			if si.Spec.Type != mcsv1beta1.Headless || len(si.Status.Clusters) != 1 || si.Status.Clusters[0].Cluster != "west" {
				return fmt.Errorf("import = %+v %+v", si.Spec, si.Status)
			}
			return wantCopies(f, "web", map[string][]*discoveryv1.EndpointSlice{"west": {westSlice}})
		})
	}
	eventually(t, "west's conflict cleared", func() error {
		return wantConditions(west, "web", map[mcsv1beta1.ServiceExportConditionType]metav1.ConditionStatus{
			mcsv1beta1.ServiceExportConditionConflict: metav1.ConditionFalse,
		})
	})

	west.delete(t, "ServiceExport", "web")
	for _, f := range both {
		eventually(t, f.name+" after both unexport", func() error {
			if err := f.noImport("web"); err != nil {
				return err
			}
			return wantCopies(f, "web", nil)
		})
	}
}

// TestInvalidExports covers exports that cannot be honoured: the import and copies go (or
// never come) and the export says why.
func TestInvalidExports(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, east *fakeCluster)
		reason mcsv1beta1.ServiceExportConditionReason
	}{
		{"Service deleted", func(t *testing.T, east *fakeCluster) { east.delete(t, "Service", "web") },
			mcsv1beta1.ServiceExportReasonNoService},
		{"Service turned ExternalName", func(t *testing.T, east *fakeCluster) {
			east.updateService(t, service("web", func(s *corev1.Service) {
				s.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}
			}))
		}, mcsv1beta1.ServiceExportReasonInvalidServiceType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := kcmSlice("web", "web-abcde", "10.0.0.1")
			east := newFakeCluster("east", service("web"), export("web", t0), src)
			west := newFakeCluster("west")
			runExporter(t, east, west)
			for _, f := range []*fakeCluster{east, west} {
				eventually(t, f.name+" exported", func() error {
					if _, err := f.getImport("web"); err != nil {
						return err
					}
					return wantCopies(f, "web", map[string][]*discoveryv1.EndpointSlice{"east": {src}})
				})
			}

			tc.change(t, east)
			for _, f := range []*fakeCluster{east, west} {
				eventually(t, f.name+" withdrawn", func() error {
					if err := f.noImport("web"); err != nil {
						return err
					}
					return wantCopies(f, "web", nil)
				})
			}
			eventually(t, "export condition", func() error {
				se, err := east.getExport("web")
				if err != nil {
					return err
				}
				c := meta.FindStatusCondition(se.Status.Conditions, string(mcsv1beta1.ServiceExportConditionValid))
				if c == nil || c.Status != metav1.ConditionFalse || c.Reason != string(tc.reason) {
					return fmt.Errorf("Valid = %+v, want False/%s", c, tc.reason)
				}
				return nil
			})
		})
	}
}

// TestRestart starts the exporter on clusters that hold what a previous run left: copies and
// an import of a service no longer exported, a copy whose source slice is gone, and objects
// the exporter does not own, which it must leave alone.
func TestRestart(t *testing.T) {
	live := kcmSlice("web", "web-live1", "10.0.0.1")
	stale := func(cluster, svc, source string) *discoveryv1.EndpointSlice {
		return desiredCopy(cluster, svc, kcmSlice(svc, source, "10.0.0.99"), nil)
	}
	handMade := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "imported-by-hand", Namespace: testNS, Labels: map[string]string{
			mcsv1beta1.LabelServiceName: "gone", discoveryv1.LabelManagedBy: "someone-else",
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	ownImport := func(name string) *mcsv1beta1.ServiceImport {
		return &mcsv1beta1.ServiceImport{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS, Labels: map[string]string{labelManagedBy: ManagedBy}},
			Spec:       mcsv1beta1.ServiceImportSpec{Type: mcsv1beta1.ClusterSetIP},
		}
	}
	foreignImport := &mcsv1beta1.ServiceImport{
		ObjectMeta: metav1.ObjectMeta{Name: "manual", Namespace: testNS},
		Spec:       mcsv1beta1.ServiceImportSpec{Type: mcsv1beta1.Headless},
	}

	east := newFakeCluster("east", service("web"), export("web", t0), live,
		stale("east", "web", "web-old01"), stale("east", "gone", "gone-00001"), ownImport("gone"))
	west := newFakeCluster("west", stale("east", "web", "web-old01"), stale("east", "gone", "gone-00001"),
		ownImport("gone"), foreignImport, handMade)
	runExporter(t, east, west)

	for _, f := range []*fakeCluster{east, west} {
		eventually(t, f.name+" reconciled", func() error {
			if err := wantCopies(f, "web", map[string][]*discoveryv1.EndpointSlice{"east": {live}}); err != nil {
				return err
			}
			if err := f.noImport("gone"); err != nil {
				return err
			}
			if _, err := f.getImport("web"); err != nil {
				return err
			}
			cps, err := f.copies("gone")
			if err != nil {
				return err
			}
			for name := range cps {
				if name != handMade.Name {
					return fmt.Errorf("%s: stale copy %s left", f.name, name)
				}
			}
			return nil
		})
	}
	if _, err := west.getImport("manual"); err != nil {
		t.Errorf("the import the exporter did not write was touched: %v", err)
	}
	if cps, err := west.copies("gone"); err != nil || cps[handMade.Name] == nil {
		t.Errorf("the slice the exporter did not write was touched: %v %v", cps, err)
	}
}

// TestAdoptsImport: an import created by hand before the export (as the mcs-api e2e does) is
// filled in, and removed once the service is unexported.
func TestAdoptsImport(t *testing.T) {
	east := newFakeCluster("east", service("web"), export("web", t0))
	west := newFakeCluster("west", &mcsv1beta1.ServiceImport{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: testNS, Labels: map[string]string{"team": "a"}},
		Spec:       mcsv1beta1.ServiceImportSpec{Type: mcsv1beta1.ClusterSetIP, Ports: []mcsv1beta1.ServicePort{{Port: 1}}},
	})
	runExporter(t, east, west)
	eventually(t, "adopted", func() error {
		si, err := west.getImport("web")
		if err != nil {
			return err
		}
		if si.Labels["team"] != "a" || si.Labels[labelManagedBy] != ManagedBy || len(si.Spec.Ports) != 1 || si.Spec.Ports[0].Port != 80 {
			return fmt.Errorf("import = %+v", si)
		}
		return nil
	})
	east.delete(t, "ServiceExport", "web")
	eventually(t, "removed", func() error { return west.noImport("web") })
}

// TestExportedLabelsAndAnnotations: spec.exportedLabels and exportedAnnotations of the oldest
// export reach the import; a key dropped from the export leaves the import, keys of other
// writers stay.
func TestExportedLabelsAndAnnotations(t *testing.T) {
	exp := export("web", t0)
	exp.Spec.ExportedLabels = map[string]string{"tier": "front", "team": "a"}
	exp.Spec.ExportedAnnotations = map[string]string{"note": "x"}
	east := newFakeCluster("east", service("web"), exp)
	west := newFakeCluster("west")
	runExporter(t, east, west)
	ctx := context.Background()

	eventually(t, "exported metadata", func() error {
		si, err := west.getImport("web")
		if err != nil {
			return err
		}
		if si.Labels["tier"] != "front" || si.Labels["team"] != "a" || si.Annotations["note"] != "x" {
			return fmt.Errorf("labels %v annotations %v", si.Labels, si.Annotations)
		}
		si.Annotations["multicluster.kubernetes.io/derived-service"] = "derived-abc"
		_, err = west.mcs.MulticlusterV1beta1().ServiceImports(testNS).Update(ctx, si, metav1.UpdateOptions{})
		return err
	})

	cur, err := east.getExport("web")
	if err != nil {
		t.Fatal(err)
	}
	cur.Spec.ExportedLabels = map[string]string{"tier": "back"}
	cur.Spec.ExportedAnnotations = nil
	if _, err := east.mcs.MulticlusterV1beta1().ServiceExports(testNS).Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "changed metadata", func() error {
		si, err := west.getImport("web")
		if err != nil {
			return err
		}
		_, team := si.Labels["team"]
		_, note := si.Annotations["note"]
		if si.Labels["tier"] != "back" || team || note || si.Annotations["multicluster.kubernetes.io/derived-service"] != "derived-abc" {
			return fmt.Errorf("labels %v annotations %v", si.Labels, si.Annotations)
		}
		return nil
	})
}

// TestNamespaceMissing: a cluster without the service's namespace gets nothing, until the
// namespace appears.
func TestNamespaceMissing(t *testing.T) {
	east := newFakeCluster("east", service("web"), export("web", t0))
	west := newFakeCluster("west")
	if err := west.kube.CoreV1().Namespaces().Delete(context.Background(), testNS, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	runExporter(t, east, west)
	eventually(t, "east import", func() error { _, err := east.getImport("web"); return err })
	if _, err := west.getImport("web"); !apierrors.IsNotFound(err) {
		t.Fatalf("west, without the namespace: import %v", err)
	}
	if _, err := west.kube.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "west import", func() error { _, err := west.getImport("web"); return err })
}

// TestRunRefuses checks what Run rejects before it starts.
func TestRunRefuses(t *testing.T) {
	noCRD := newFakeCluster("west")
	noCRD.mcs.PrependReactor("list", "serviceexports", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(mcsv1beta1.Resource("serviceexports"), "")
	})
	east := newFakeCluster("east")
	tests := []struct {
		name     string
		clusters []Cluster
		want     string
	}{
		{"no clusters", nil, "no clusters"},
		{"bad name", []Cluster{{Name: "East_1", Kube: east.kube, MCS: east.mcs}}, `cluster name "East_1"`},
		{"twice", []Cluster{east.cluster(), east.cluster()}, "given twice"},
		{"no clients", []Cluster{{Name: "east"}}, "missing Kube or MCS client"},
		{"CRD missing", []Cluster{east.cluster(), noCRD.cluster()}, "cluster west: listing ServiceExports"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := Run(ctx, tc.clusters, t.Logf)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
