package clusterset

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Without a node (Options.Nodes unset) no kubelet runs: a Pod is created with spec.nodeName set (the scheduler's part) and its
// status is written through the pods/status subresource (the kubelet's part). That is all
// kube-controller-manager's EndpointSlice controller reads: it publishes a Pod with a podIP,
// a non-terminal phase and an existing Node (endpointslice's podToEndpoint and
// ShouldPodBeInEndpoints, k8s.io/endpointslice v0.35.4), ready from its Ready condition.

// createNode creates the cluster's Node with its zone label, which the EndpointSlice
// controller copies into every endpoint on it.
func (c *Cluster) createNode(ctx context.Context) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: c.NodeName(), Labels: map[string]string{
		corev1.LabelHostname:      c.NodeName(),
		corev1.LabelTopologyZone:  c.Zone,
		corev1.LabelOSStable:      "linux",
		corev1.LabelArchStable:    "amd64",
		"node.kubernetes.io/fake": "no-kubelet",
	}}}
	if _, err := c.Clients.Kube.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating Node %s: %w", node.Name, err)
	}
	return nil
}

// Namespace creates the namespace ns and waits until the serviceaccount controller has made
// its default ServiceAccount, without which the ServiceAccount admission plugin refuses Pods.
func (c *Cluster) Namespace(ctx context.Context, ns string) error {
	_, err := c.Clients.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("cluster %s: creating namespace %s: %w", c.Name, ns, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.Clients.Kube.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return nil
		}
		if !apierrors.IsNotFound(err) || time.Now().After(deadline) {
			return fmt.Errorf("cluster %s: the default ServiceAccount of namespace %s: %w", c.Name, ns, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// PodSpec is a Pod to create.
type PodSpec struct {
	Namespace, Name string
	Labels          map[string]string
	// Hostname and Subdomain are spec.hostname and spec.subdomain (StatefulSet pods); the
	// EndpointSlice controller sets an endpoint's hostname only when Subdomain is the
	// Service's name.
	Hostname, Subdomain string
}

// CreatePod creates the Pod on the cluster's Node, then writes its status as a kubelet would
// once its containers run: phase Running, one address per pod CIDR, Ready as given. It
// returns the addresses.
func (c *Cluster) CreatePod(ctx context.Context, p PodSpec, ready bool) ([]string, error) {
	if c.node != nil {
		return c.runPod(ctx, p, ready)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name, Labels: p.Labels},
		Spec: corev1.PodSpec{
			NodeName:  c.NodeName(),
			Hostname:  p.Hostname,
			Subdomain: p.Subdomain,
			// Never pulled: no kubelet runs.
			Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}},
		},
	}
	if _, err := c.Clients.Kube.CoreV1().Pods(p.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("cluster %s: creating Pod %s/%s: %w", c.Name, p.Namespace, p.Name, err)
	}
	ips := c.allocate()
	if err := c.patchPodStatus(ctx, p.Namespace, p.Name, runningStatus(ips, ready)); err != nil {
		return nil, err
	}
	return ips, nil
}

// SetPodReady flips the Pod's Ready condition (a readiness probe failing or passing).
func (c *Cluster) SetPodReady(ctx context.Context, ns, name string, ready bool) error {
	if c.node != nil {
		return fmt.Errorf("cluster %s: a kubelet owns the status of pod %s/%s", c.Name, ns, name)
	}
	return c.patchPodStatus(ctx, ns, name, map[string]any{"conditions": []map[string]any{condition(corev1.PodReady, ready)}})
}

// TerminatePod deletes the Pod gracefully: with no kubelet to finish the deletion it stays,
// with deletionTimestamp set, as a terminating pod does during its grace period.
func (c *Cluster) TerminatePod(ctx context.Context, ns, name string) error {
	if err := c.Clients.Kube.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("cluster %s: deleting Pod %s/%s: %w", c.Name, ns, name, err)
	}
	return nil
}

// RemovePod deletes the Pod at once (grace period 0: what the kubelet confirms when a
// terminating pod's containers have stopped). A Pod already gone is no error.
func (c *Cluster) RemovePod(ctx context.Context, ns, name string) error {
	zero := int64(0)
	err := c.Clients.Kube.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("cluster %s: deleting Pod %s/%s: %w", c.Name, ns, name, err)
	}
	return nil
}

// PodIPs returns the Pod's status.podIPs.
func (c *Cluster) PodIPs(ctx context.Context, ns, name string) ([]string, error) {
	pod, err := c.Clients.Kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	var ips []string
	for _, ip := range pod.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	return ips, nil
}

// patchPodStatus applies a strategic-merge patch to the Pod's status through pods/status
// (conditions merge by type).
func (c *Cluster) patchPodStatus(ctx context.Context, ns, name string, status map[string]any) error {
	data, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return err
	}
	_, err = c.Clients.Kube.CoreV1().Pods(ns).Patch(ctx, name, types.StrategicMergePatchType, data, metav1.PatchOptions{}, "status")
	if err != nil {
		return fmt.Errorf("cluster %s: patching the status of Pod %s/%s: %w", c.Name, ns, name, err)
	}
	return nil
}

// runningStatus is what a kubelet reports for a started pod.
func runningStatus(ips []string, ready bool) map[string]any {
	podIPs := []map[string]string{}
	for _, ip := range ips {
		podIPs = append(podIPs, map[string]string{"ip": ip})
	}
	now := metav1.Now().UTC().Format(time.RFC3339)
	return map[string]any{
		"phase":     corev1.PodRunning,
		"hostIP":    "127.0.0.1",
		"hostIPs":   []map[string]string{{"ip": "127.0.0.1"}},
		"podIP":     ips[0],
		"podIPs":    podIPs,
		"startTime": now,
		"conditions": []map[string]any{
			condition(corev1.PodScheduled, true),
			condition(corev1.PodInitialized, true),
			condition(corev1.ContainersReady, ready),
			condition(corev1.PodReady, ready),
		},
	}
}

func condition(t corev1.PodConditionType, ok bool) map[string]any {
	status := corev1.ConditionFalse
	if ok {
		status = corev1.ConditionTrue
	}
	return map[string]any{"type": t, "status": status, "lastTransitionTime": metav1.Now().UTC().Format(time.RFC3339)}
}

// allocate returns the next pod address of every pod CIDR (one per family). Addresses are
// never reused within a run.
func (c *Cluster) allocate() []string {
	c.ipMu.Lock()
	defer c.ipMu.Unlock()
	c.nextIP++
	var ips []string
	for _, p := range c.podCIDRs {
		ips = append(ips, addOffset(p.Masked().Addr(), c.nextIP+9).String())
	}
	return ips
}

// addOffset returns a + n.
func addOffset(a netip.Addr, n uint32) netip.Addr {
	b := a.AsSlice()
	for i := len(b) - 1; i >= 0 && n > 0; i-- {
		sum := uint32(b[i]) + n&0xff
		b[i] = byte(sum)
		n = n>>8 + sum>>8
	}
	out, _ := netip.AddrFromSlice(b)
	return out
}
