package clusterset

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcs-dns/multicluster/test/node"
)

// runPod is CreatePod on a cluster with a node: the Pod runs busybox (sleeping) and the
// scheduler places it; the kubelet starts it and reports its addresses and readiness, which
// runPod waits for. A pod created not ready has a readiness probe that fails until /tmp/ready
// exists (`kubectl exec POD -- touch /tmp/ready` makes it ready).
func (c *Cluster) runPod(ctx context.Context, p PodSpec, ready bool) ([]string, error) {
	ctr := corev1.Container{Name: "app", Image: node.BusyboxImage, ImagePullPolicy: corev1.PullIfNotPresent,
		Command: []string{"/bin/sh", "-c", "exec sleep 2147483647"}}
	if !ready {
		ctr.ReadinessProbe = &corev1.Probe{PeriodSeconds: 1,
			ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"test", "-f", "/tmp/ready"}}}}
	}
	no := false
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name, Labels: p.Labels},
		Spec: corev1.PodSpec{Hostname: p.Hostname, Subdomain: p.Subdomain, AutomountServiceAccountToken: &no,
			Containers: []corev1.Container{ctr}},
	}
	if _, err := c.Clients.Kube.CoreV1().Pods(p.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("cluster %s: creating Pod %s/%s: %w", c.Name, p.Namespace, p.Name, err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	last := "not found"
	for {
		got, err := c.Clients.Kube.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
		if err == nil {
			last = string(got.Status.Phase)
			if got.Status.Phase == corev1.PodRunning && len(got.Status.PodIPs) > 0 && (!ready || PodReady(got)) {
				var ips []string
				for _, ip := range got.Status.PodIPs {
					ips = append(ips, ip.IP)
				}
				return ips, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("cluster %s: pod %s/%s not running within 2m (%s)", c.Name, p.Namespace, p.Name, last)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// PodReady reports whether the Pod's Ready condition is True.
func PodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
