package e2e

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"

	"github.com/mcs-dns/multicluster/test/node"
)

// TestPodsResolve runs CoreDNS where its users run it: deploy/ applied to a cluster with a real
// kubelet node, the kube-dns Service at the kubelet's clusterDNS, and pods asking through
// kube-proxy with the resolv.conf the kubelet wrote (search path, ndots:5), through glibc's stub
// resolver (getent) and busybox's nslookup. The objects come from the real controllers:
// kube-controller-manager writes the slices of running pods, the exporter copies them, the
// mcs-api servicecontroller writes the ClusterSetIP. Then a rolling restart of the coredns
// Deployment while a pod resolves 20 names a second: no lookup may fail.
func TestPodsResolve(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	begin := time.Now()
	pc := startPodCluster(t, ctx, eastPods)
	t.Logf("cluster east with node %s ready in %s", eastPods.nodeName, time.Since(begin).Round(time.Second))
	west := startPodCluster(t, ctx, westPods)
	t.Logf("cluster west with node %s (network namespace %s) ready in %s", westPods.nodeName, westPods.netns, time.Since(begin).Round(time.Second))

	for _, c := range []*podCluster{pc, west} {
		c.deployCoreDNS(t, ctx)
	}
	t.Logf("coredns Deployment from deploy/ available in both clusters in %s", time.Since(begin).Round(time.Second))

	const ns = "shop"
	if err := west.createNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	runExporter(t, pc, west)
	dbIPs := pc.startWorkloads(t, ctx, ns)
	webIP := pc.waitClusterSetIP(t, ctx, ns, "web")

	client := pc.startClientPod(t, ctx, "default", "client")
	// As applications write names: without the final dot, so glibc tries the search path first
	// (ndots:5); and absolute.
	webAbs := fq("", "web", ns)
	web := strings.TrimSuffix(webAbs, ".")
	cases := []struct {
		name string
		cmd  []string
		want []string // addresses the output must hold, exactly (getent) or among others (nslookup)
	}{
		{"ClusterSetIP, glibc, through the search path", []string{"getent", "ahostsv4", web}, []string{webIP}},
		{"ClusterSetIP, glibc, absolute", []string{"getent", "ahostsv4", webAbs}, []string{webIP}},
		{"ClusterSetIP, busybox nslookup", []string{"nslookup", "-type=a", web}, []string{webIP}},
		{"headless, every ready pod", []string{"getent", "ahostsv4", strings.TrimSuffix(fq("", "db", ns), ".")}, dbIPs},
		{"per-endpoint name", []string{"getent", "ahostsv4", strings.TrimSuffix(fq("db-0."+eastPods.id, "db", ns), ".")}, dbIPs[:1]},
		{"cluster.local still resolves", []string{"getent", "ahostsv4", "kubernetes.default.svc.cluster.local"}, []string{"10.96.0.1"}},
		{"cluster.local short name through the search path", []string{"getent", "ahostsv4", "kubernetes.default"}, []string{"10.96.0.1"}},
	}
	for _, c := range cases {
		out, err := pc.exec(ctx, "default", client, c.cmd...)
		if err != nil {
			t.Errorf("%s: %v\n%s", c.name, err, out)
			continue
		}
		got := addressesIn(out)
		if c.cmd[0] == "getent" && !slices.Equal(got, sorted(c.want)) {
			t.Errorf("%s: %s gave %v, want %v\n%s", c.name, strings.Join(c.cmd, " "), got, sorted(c.want), out)
		}
		for _, w := range c.want {
			if !slices.Contains(got, w) {
				t.Errorf("%s: %s: %s missing\n%s", c.name, strings.Join(c.cmd, " "), w, out)
			}
		}
	}

	west.resolveFromWest(t, ctx, ns, dbIPs)

	// What one lookup costs with the kubelet's ndots:5: a name with fewer than five dots goes
	// through the search path first (three cluster.local suffixes), for A and AAAA each.
	for _, name := range []string{web, webAbs} {
		n := pc.queriesPerLookup(t, ctx, client, name)
		t.Logf("queries reaching CoreDNS for one `getent ahosts %s`: %v", name, n)
	}

	pc.rolloutWhileResolving(t, ctx, client, web, webIP)
}

// deployCoreDNS applies deploy/ and waits for the coredns Deployment, with the kube-dns Service
// at the kubelet's clusterDNS.
func (pc *podCluster) deployCoreDNS(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := pc.applyDeploy(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pc.waitRollout(ctx, "kube-system", "coredns", 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	svc, err := pc.kube.CoreV1().Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
	if err != nil || svc.Spec.ClusterIP != pc.spec.clusterDNS {
		t.Fatalf("cluster %s: kube-dns Service from deploy/: %v, clusterIP %v, want the kubelet's clusterDNS %s", pc.spec.id, err, svc.Spec.ClusterIP, pc.spec.clusterDNS)
	}
}

// resolveFromWest asks from a pod of the second cluster, whose node runs in a network namespace
// of its own: east's headless pods by their per-endpoint names and all together, through west's
// CoreDNS, which knows them only from the exporter's copies of east's slices.
func (pc *podCluster) resolveFromWest(t *testing.T, ctx context.Context, ns string, eastDB []string) {
	t.Helper()
	client := pc.startClientPod(t, ctx, "default", "client")
	cases := []struct {
		name string
		want []string
	}{
		{"db-0." + eastPods.id + ".db." + ns + ".svc.clusterset.local", eastDB[:1]},
		{"db-1." + eastPods.id + ".db." + ns + ".svc.clusterset.local", eastDB[1:2]},
		{"db." + ns + ".svc.clusterset.local", eastDB},
	}
	for _, c := range cases {
		// The copies reach west a moment after east's slices: retried for a few seconds.
		var got []string
		var out string
		deadline := time.Now().Add(20 * time.Second)
		for {
			var err error
			out, err = pc.exec(ctx, "default", client, "getent", "ahostsv4", c.name)
			got = addressesIn(out)
			if err == nil && slices.Equal(got, sorted(c.want)) || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Second)
		}
		if !slices.Equal(got, sorted(c.want)) {
			t.Errorf("a pod in west: getent ahostsv4 %s gave %v, want east's %v\n%s", c.name, got, sorted(c.want), out)
		} else {
			t.Logf("a pod in west: %s -> %v (east's pods)", c.name, got)
		}
	}
}

func (pc *podCluster) createNamespace(ctx context.Context, ns string) error {
	_, err := pc.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	return err
}

// startWorkloads creates, in ns, a Deployment-made ClusterSetIP Service "web" and two
// StatefulSet-like pods (hostname, subdomain) behind the headless Service "db", exports both,
// and returns db-0's and db-1's addresses once running.
func (pc *podCluster) startWorkloads(t *testing.T, ctx context.Context, ns string) []string {
	t.Helper()
	if err := pc.createNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	web := int32(2)
	httpd := busyboxContainer("web", "mkdir -p /www && echo web > /www/index.html && exec httpd -f -p 8080 -h /www")
	httpd.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
	objs := []func() error{
		func() error {
			_, err := pc.kube.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Name: "web"},
				Spec: appsv1.DeploymentSpec{Replicas: &web, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
					Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
						Spec: corev1.PodSpec{Containers: []corev1.Container{httpd}, AutomountServiceAccountToken: new(bool)}}},
			}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := pc.kube.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"},
				Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
					Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := pc.kube.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db"},
				Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "db"},
					Ports: []corev1.ServicePort{{Name: "pg", Port: 5432}}}}, metav1.CreateOptions{})
			return err
		},
	}
	for i := 0; i < 2; i++ {
		name := "db-" + strconv.Itoa(i)
		objs = append(objs, func() error {
			_, err := pc.kube.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "db"}},
				Spec: corev1.PodSpec{Hostname: name, Subdomain: "db", AutomountServiceAccountToken: new(bool),
					Containers: []corev1.Container{busyboxContainer("db", "exec sleep 2147483647")}},
			}, metav1.CreateOptions{})
			return err
		})
	}
	for _, name := range []string{"web", "db"} {
		objs = append(objs, func() error {
			_, err := pc.mcs.MulticlusterV1beta1().ServiceExports(ns).Create(ctx,
				&mcsv1beta1.ServiceExport{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
			return err
		})
	}
	for _, create := range objs {
		if err := create(); err != nil {
			t.Fatal(err)
		}
	}
	var ips []string
	for i := 0; i < 2; i++ {
		p, err := pc.waitPodRunning(ctx, ns, "db-"+strconv.Itoa(i), 2*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		ips = append(ips, p.Status.PodIP)
	}
	if err := pc.waitRollout(ctx, ns, "web", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	return ips
}

// waitClusterSetIP waits until the mcs-api servicecontroller has written the derived
// Service's ClusterIP into the ServiceImport's spec.ips, and returns it.
func (pc *podCluster) waitClusterSetIP(t *testing.T, ctx context.Context, ns, name string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		si, err := pc.mcs.MulticlusterV1beta1().ServiceImports(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && len(si.Spec.IPs) > 0 {
			return si.Spec.IPs[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("ServiceImport %s/%s has no spec.ips after 1m (err %v, import %+v)", ns, name, err, si)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// startClientPod runs a busybox pod that waits, for exec.
func (pc *podCluster) startClientPod(t *testing.T, ctx context.Context, ns, name string) string {
	t.Helper()
	_, err := pc.kube.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{AutomountServiceAccountToken: new(bool),
			Containers: []corev1.Container{busyboxContainer("client", "exec sleep 2147483647")}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.waitPodRunning(ctx, ns, name, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	out, err := pc.exec(ctx, ns, name, "cat", "/etc/resolv.conf")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the pod's resolv.conf, as the kubelet wrote it:\n%s", out)
	if !strings.Contains(out, "nameserver "+pc.spec.clusterDNS) || !strings.Contains(out, "ndots:5") {
		t.Fatalf("resolv.conf without nameserver %s and ndots:5:\n%s", pc.spec.clusterDNS, out)
	}
	return name
}

func busyboxContainer(name, script string) corev1.Container {
	return corev1.Container{Name: name, Image: node.BusyboxImage, ImagePullPolicy: corev1.PullIfNotPresent,
		Command: []string{"/bin/sh", "-c", script}}
}

// queriesPerLookup counts the requests the coredns pods received for one getent lookup of name.
func (pc *podCluster) queriesPerLookup(t *testing.T, ctx context.Context, pod, name string) float64 {
	t.Helper()
	before, err := pc.dnsRequests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := pc.exec(ctx, "default", pod, "getent", "ahosts", name); err != nil {
		t.Fatalf("getent ahosts %s: %v\n%s", name, err, out)
	}
	after, err := pc.dnsRequests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return after - before
}

// The lookup loop that runs in the client pod during the rollout: getent lookups back to back,
// 20 ms apart, until /tmp/stop appears; every failure and every lookup that took a second or
// more (a query lost and sent again) is written down with its time.
const lookupLoop = `name=%s; n=0; fail=0; slow=0
while [ ! -f /tmp/stop ]; do
  t0=$(date +%%s)
  if getent ahostsv4 "$name" >/dev/null 2>&1; then :; else fail=$((fail+1)); echo "failed at $(date +%%T)"; fi
  [ $(( $(date +%%s) - t0 )) -ge 2 ] && { slow=$((slow+1)); echo "slow at $(date +%%T)"; }
  n=$((n+1)); usleep 20000
done
echo "lookups=$n failed=$fail slow=$slow"
`

// rolloutWhileResolving restarts the coredns Deployment (`kubectl rollout restart`) while the
// client pod resolves name in a loop, and requires that no lookup failed.
func (pc *podCluster) rolloutWhileResolving(t *testing.T, ctx context.Context, pod, name, want string) {
	t.Helper()
	// The loop is the exec's own process, streamed back when it ends: the API server and the
	// kubelet carry the stream, CoreDNS's rollout does not touch it.
	type result struct {
		out string
		err error
	}
	loop := make(chan result, 1)
	go func() {
		out, err := pc.exec(ctx, "default", pod, "sh", "-c", "rm -f /tmp/stop; "+fmt.Sprintf(lookupLoop, name))
		loop <- result{out, err}
	}()
	time.Sleep(2 * time.Second) // lookups before the rollout starts
	old, err := pc.corednsPods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":%q}}}}}`, start.Format(time.RFC3339))
	if _, err := pc.kube.AppsV1().Deployments("kube-system").Patch(ctx, "coredns", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pc.waitRollout(ctx, "kube-system", "coredns", 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	// The old pods are gone once their lameduck has run out; keep resolving past that.
	for _, p := range old {
		if err := pc.waitPodGone(ctx, "kube-system", p.Name, 2*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	took := time.Since(start)
	time.Sleep(3 * time.Second)
	if out, err := pc.exec(ctx, "default", pod, "touch", "/tmp/stop"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var res result
	select {
	case res = <-loop:
	case <-time.After(30 * time.Second):
		t.Fatal("the lookup loop did not stop within 30s of /tmp/stop")
	}
	out := res.out
	if res.err != nil {
		t.Fatalf("the lookup loop: %v\n%s", res.err, out)
	}
	m := regexp.MustCompile(`lookups=(\d+) failed=(\d+) slow=(\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the lookup loop did not finish:\n%s", out)
	}
	lookups, _ := strconv.Atoi(m[1])
	t.Logf("rolling restart of coredns took %s (new pods available, old ones gone); lookups of %s during it: %s, failed: %s, slower than 1 s: %s",
		took.Round(time.Second), name, m[1], m[2], m[3])
	if m[2] != "0" {
		t.Errorf("%s lookups failed during the rollout:\n%s", m[2], out)
	}
	if lookups < int(took.Seconds())*10 {
		t.Errorf("only %d lookups in %s: the loop did not run at its rate", lookups, took)
	}
	if out, err := pc.exec(ctx, "default", pod, "getent", "ahostsv4", name); err != nil || !strings.Contains(out, want) {
		t.Errorf("after the rollout, %s gave %q (%v), want %s", name, out, err, want)
	}
}

func (pc *podCluster) waitPodGone(ctx context.Context, ns, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		_, err := pc.kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pod %s/%s still there after %s", ns, name, timeout)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

var ipv4InText = regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`)

// addressesIn returns the distinct IPv4 addresses in a command's output, sorted, leaving out the
// nameserver nslookup names in its header.
func addressesIn(out string) []string {
	seen := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "Server:") || strings.Contains(line, "#53") {
			continue
		}
		for _, a := range ipv4InText.FindAllString(line, -1) {
			seen[a] = true
		}
	}
	var l []string
	for a := range seen {
		l = append(l, a)
	}
	sort.Strings(l)
	return l
}
