package exporter

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"
)

// exp is one cluster's export for merge tests: age in minutes after t0 and a spec.
func exp(cluster string, age int, mutate ...func(*exported)) exported {
	x := exported{
		cluster: cluster,
		created: metav1.NewTime(t0.Add(time.Duration(age) * time.Minute)),
		spec: mcsv1beta1.ServiceImportSpec{
			Type:       mcsv1beta1.ClusterSetIP,
			Ports:      []mcsv1beta1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80}},
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
		},
	}
	for _, m := range mutate {
		m(&x)
	}
	return x
}

func ports(ps ...mcsv1beta1.ServicePort) func(*exported) {
	return func(x *exported) { x.spec.Ports = ps }
}

func families(fs ...corev1.IPFamily) func(*exported) {
	return func(x *exported) { x.spec.IPFamilies = fs }
}

var (
	http80    = mcsv1beta1.ServicePort{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80}
	http8080  = mcsv1beta1.ServicePort{Name: "http", Protocol: corev1.ProtocolTCP, Port: 8080}
	web80     = mcsv1beta1.ServicePort{Name: "web", Protocol: corev1.ProtocolTCP, Port: 80}
	metrics   = mcsv1beta1.ServicePort{Name: "metrics", Protocol: corev1.ProtocolTCP, Port: 9090}
	dnsUDP    = mcsv1beta1.ServicePort{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53}
	dnsTCP    = mcsv1beta1.ServicePort{Name: "dns-tcp", Protocol: corev1.ProtocolTCP, Port: 53}
	http80h2c = mcsv1beta1.ServicePort{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, AppProtocol: ptrTo("kubernetes.io/h2c")}
)

func TestMerge(t *testing.T) {
	v4, v6 := corev1.IPv4Protocol, corev1.IPv6Protocol
	tests := []struct {
		name     string
		exps     []exported
		type_    mcsv1beta1.ServiceImportType
		ports    []mcsv1beta1.ServicePort
		families []corev1.IPFamily
		clusters []string
		conflict mcsv1beta1.ServiceExportConditionReason
		check    func(t *testing.T, m merged)
	}{{
		name: "one export", exps: []exported{exp("east", 0, ports(http80, dnsUDP, dnsTCP))},
		type_: mcsv1beta1.ClusterSetIP, ports: []mcsv1beta1.ServicePort{http80, dnsUDP, dnsTCP},
		families: []corev1.IPFamily{v4}, clusters: []string{"east"},
	}, {
		name: "agreeing exports", exps: []exported{exp("west", 1), exp("east", 0)},
		type_: mcsv1beta1.ClusterSetIP, ports: []mcsv1beta1.ServicePort{http80},
		families: []corev1.IPFamily{v4}, clusters: []string{"east", "west"},
	}, {
		name: "ports union", exps: []exported{exp("east", 0), exp("west", 1, ports(http80, metrics))},
		type_: mcsv1beta1.ClusterSetIP, ports: []mcsv1beta1.ServicePort{http80, metrics},
		families: []corev1.IPFamily{v4}, clusters: []string{"east", "west"},
		conflict: mcsv1beta1.ServiceExportReasonPortConflict,
	}, {
		name: "port name used for another number: the oldest wins", exps: []exported{exp("west", 1, ports(http8080)), exp("east", 0)},
		type_: mcsv1beta1.ClusterSetIP, ports: []mcsv1beta1.ServicePort{http80},
		families: []corev1.IPFamily{v4}, clusters: []string{"east", "west"},
		conflict: mcsv1beta1.ServiceExportReasonPortConflict,
	}, {
		name: "port number under another name: the oldest wins", exps: []exported{exp("east", 2, ports(web80)), exp("west", 1)},
		type_: mcsv1beta1.ClusterSetIP, ports: []mcsv1beta1.ServicePort{http80},
		families: []corev1.IPFamily{v4}, clusters: []string{"east", "west"},
		conflict: mcsv1beta1.ServiceExportReasonPortConflict,
	}, {
		name: "appProtocol differs: the oldest wins", exps: []exported{exp("east", 0, ports(http80h2c)), exp("west", 1)},
		type_: mcsv1beta1.ClusterSetIP, ports: []mcsv1beta1.ServicePort{http80h2c},
		families: []corev1.IPFamily{v4}, clusters: []string{"east", "west"},
		conflict: mcsv1beta1.ServiceExportReasonPortConflict,
	}, {
		name:  "headlessness: the oldest wins",
		exps:  []exported{exp("east", 5), exp("west", 1, func(x *exported) { x.spec.Type = mcsv1beta1.Headless })},
		type_: mcsv1beta1.Headless, ports: []mcsv1beta1.ServicePort{http80},
		families: []corev1.IPFamily{v4}, clusters: []string{"east", "west"},
		conflict: mcsv1beta1.ServiceExportReasonTypeConflict,
	}, {
		name:  "same age: the first cluster by name wins",
		exps:  []exported{exp("west", 0, func(x *exported) { x.spec.Type = mcsv1beta1.Headless }), exp("east", 0)},
		type_: mcsv1beta1.ClusterSetIP, ports: []mcsv1beta1.ServicePort{http80},
		families: []corev1.IPFamily{v4}, clusters: []string{"east", "west"},
		conflict: mcsv1beta1.ServiceExportReasonTypeConflict,
	}, {
		name: "families: the common ones", exps: []exported{exp("west", 0, families(v6, v4)), exp("east", 1)},
		type_: mcsv1beta1.ClusterSetIP, ports: []mcsv1beta1.ServicePort{http80},
		families: []corev1.IPFamily{v4}, clusters: []string{"east", "west"},
	}, {
		name: "families: dual-stack everywhere, the oldest's order", exps: []exported{exp("west", 0, families(v6, v4)), exp("east", 1, families(v4, v6))},
		type_: mcsv1beta1.ClusterSetIP, ports: []mcsv1beta1.ServicePort{http80},
		families: []corev1.IPFamily{v6, v4}, clusters: []string{"east", "west"},
	}, {
		name: "families: none in common", exps: []exported{exp("east", 0), exp("west", 1, families(v6))},
		type_: mcsv1beta1.ClusterSetIP, ports: []mcsv1beta1.ServicePort{http80},
		families: []corev1.IPFamily{v4}, clusters: []string{"east", "west"},
		conflict: mcsv1beta1.ServiceExportReasonIPFamilyConflict,
	}, {
		name: "families: a Service without them does not narrow", exps: []exported{exp("east", 0, families()), exp("west", 1, families(v6, v4))},
		type_: mcsv1beta1.ClusterSetIP, ports: []mcsv1beta1.ServicePort{http80},
		families: []corev1.IPFamily{v6, v4}, clusters: []string{"east", "west"},
	}, {
		name: "trafficDistribution: the oldest wins",
		exps: []exported{
			exp("east", 0, func(x *exported) { x.spec.TrafficDistribution = ptrTo(corev1.ServiceTrafficDistributionPreferClose) }),
			exp("west", 1),
		},
		type_: mcsv1beta1.ClusterSetIP, ports: []mcsv1beta1.ServicePort{http80},
		families: []corev1.IPFamily{v4}, clusters: []string{"east", "west"},
		conflict: mcsv1beta1.ServiceExportReasonTrafficDistributionConflict,
		check: func(t *testing.T, m merged) {
			if m.spec.TrafficDistribution == nil || *m.spec.TrafficDistribution != corev1.ServiceTrafficDistributionPreferClose {
				t.Errorf("trafficDistribution = %v, want PreferClose", m.spec.TrafficDistribution)
			}
		},
	}, {
		name: "exported labels: the oldest wins",
		exps: []exported{
			exp("east", 1, func(x *exported) { x.labels = map[string]string{"a": "1"} }),
			exp("west", 0, func(x *exported) { x.labels = map[string]string{"b": "2"} }),
		},
		type_: mcsv1beta1.ClusterSetIP, ports: []mcsv1beta1.ServicePort{http80},
		families: []corev1.IPFamily{v4}, clusters: []string{"east", "west"},
		conflict: mcsv1beta1.ServiceExportReasonLabelsConflict,
		check: func(t *testing.T, m merged) {
			if m.labels["b"] != "2" || len(m.labels) != 1 {
				t.Errorf("labels = %v, want west's", m.labels)
			}
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := merge(tc.exps)
			if m.spec.Type != tc.type_ {
				t.Errorf("type = %s, want %s", m.spec.Type, tc.type_)
			}
			if !apiequality.Semantic.DeepEqual(m.spec.Ports, tc.ports) {
				t.Errorf("ports = %+v, want %+v", m.spec.Ports, tc.ports)
			}
			if !slices.Equal(m.spec.IPFamilies, tc.families) {
				t.Errorf("ipFamilies = %v, want %v", m.spec.IPFamilies, tc.families)
			}
			if !slices.Equal(m.clusters, tc.clusters) {
				t.Errorf("clusters = %v, want %v", m.clusters, tc.clusters)
			}
			if m.conflictReason != tc.conflict {
				t.Errorf("conflict = %q (%s), want %q", m.conflictReason, m.conflictMessage, tc.conflict)
			}
			if (m.conflictReason == "") != (m.conflictMessage == "") {
				t.Errorf("conflict reason %q with message %q", m.conflictReason, m.conflictMessage)
			}
			if tc.check != nil {
				tc.check(t, m)
			}
		})
	}
}

func TestCopyName(t *testing.T) {
	long := strings.Repeat("a", 240) + "-" + strings.Repeat("b", 20)
	tests := []struct {
		cluster, source string
		prefix          string // what the name starts with
	}{
		{"east", "web-x7k2p", "web-x7k2p-east-"},
		{"west", "web-x7k2p", "web-x7k2p-west-"},
		{"east", long, strings.Repeat("a", 240)},
		// Cut where a "-" would end the kept part: the cut must not leave "--" or "-." behind.
		{"east", strings.Repeat("a", 243) + ".b", strings.Repeat("a", 243)},
	}
	seen := map[string]string{}
	for _, tc := range tests {
		name := copyName(tc.cluster, tc.source)
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			t.Errorf("copyName(%q, %q) = %q: %v", tc.cluster, tc.source, name, errs)
		}
		if !strings.HasPrefix(name, tc.prefix) {
			t.Errorf("copyName(%q, %q) = %q, want it to start with %q", tc.cluster, tc.source, name, tc.prefix)
		}
		if name != copyName(tc.cluster, tc.source) {
			t.Errorf("copyName(%q, %q) is not deterministic", tc.cluster, tc.source)
		}
		if other, dup := seen[name]; dup {
			t.Errorf("copyName(%q, %q) = %q, as for %s", tc.cluster, tc.source, name, other)
		}
		seen[name] = tc.cluster + "/" + tc.source
	}
	// Two pairs that join to the same text.
	if a, b := copyName("b-c", "a"), copyName("c", "a-b"); a == b {
		t.Errorf("copyName(b-c, a) = copyName(c, a-b) = %q", a)
	}
}

// A cluster whose port loses to an older export keeps its endpoints out of that port: the
// copies of its slices do not carry it (the conformance suite's StrictPortConflict specs).
func TestLosingPortsLeaveTheCopies(t *testing.T) {
	port := func(name string, n int32) mcsv1beta1.ServicePort {
		return mcsv1beta1.ServicePort{Name: name, Port: n, Protocol: corev1.ProtocolTCP}
	}
	east := exported{cluster: "east", spec: mcsv1beta1.ServiceImportSpec{Ports: []mcsv1beta1.ServicePort{port("tcp", 42)}}}
	cases := []struct {
		name string
		west []mcsv1beta1.ServicePort
		want map[string]map[string]bool
	}{
		{"same port", []mcsv1beta1.ServicePort{port("tcp", 42)}, map[string]map[string]bool{}},
		{"same name, other number", []mcsv1beta1.ServicePort{port("tcp", 4242)}, map[string]map[string]bool{"west": {"tcp": true}}},
		{"same number, other name", []mcsv1beta1.ServicePort{port("tcp2", 42)}, map[string]map[string]bool{"west": {"tcp2": true}}},
		{"another port", []mcsv1beta1.ServicePort{port("tcp2", 4242)}, map[string]map[string]bool{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			exps := []exported{east, {cluster: "west", spec: mcsv1beta1.ServiceImportSpec{Ports: c.west}}}
			union, _ := mergePorts(exps)
			got := losingPorts(exps, union)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("losingPorts = %v, want %v", got, c.want)
			}
			src := kcmSlice("hello", "hello-abc", "10.2.1.5")
			src.Ports = []discoveryv1.EndpointPort{{Name: ptrTo(c.west[0].Name), Protocol: ptrTo(corev1.ProtocolTCP), Port: ptrTo[int32](42)}}
			cp := desiredCopy("west", "hello", src, got["west"])
			if wantPorts := 1 - len(got["west"]); len(cp.Ports) != wantPorts || len(cp.Endpoints) != 1 {
				t.Fatalf("copy has %d ports and %d endpoints, want %d and 1", len(cp.Ports), len(cp.Endpoints), wantPorts)
			}
		})
	}
}
