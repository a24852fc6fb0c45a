package node

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
)

// waitReady waits until the kubelet has registered the Node and reports it Ready (the runtime
// answers, the CNI configuration loaded).
func (n *Node) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, n.opts.Ready)
	defer cancel()
	last := "not registered"
	for {
		node, err := n.client.CoreV1().Nodes().Get(ctx, n.opts.Name, metav1.GetOptions{})
		if err == nil {
			last = "no Ready condition"
			for _, c := range node.Status.Conditions {
				if c.Type == corev1.NodeReady {
					if c.Status == corev1.ConditionTrue {
						return nil
					}
					last = fmt.Sprintf("Ready=%s: %s", c.Status, c.Message)
				}
			}
		}
		for _, d := range []struct {
			name    string
			exited  func() (bool, error)
			logTail func(int) string
		}{{"kubelet", n.kubelet.Exited, n.kubelet.LogTail}, {"kube-proxy", n.proxy.Exited, n.proxy.LogTail}} {
			if exited, werr := d.exited(); exited {
				return fmt.Errorf("%s exited (%v):\n%s", d.name, werr, d.logTail(30))
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s not Ready within %s (%s):\n%s", n.opts.Name, n.opts.Ready, last, n.Logs(20))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// drain cordons the node (so controllers' replacement pods are not placed on it again), deletes
// every pod bound to it at once and waits until containerd runs none of them: the kubelet stops
// each sandbox and releases its address through CNI, so nothing is left in the host's network or
// mounts.
func (n *Node) drain(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cordon := []byte(`{"spec":{"unschedulable":true}}`)
	if _, err := n.client.CoreV1().Nodes().Patch(ctx, n.opts.Name, types.StrategicMergePatchType, cordon, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("cordoning node %s: %w", n.opts.Name, err)
	}
	pods, err := n.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", n.opts.Name).String(),
	})
	if err != nil {
		return err
	}
	zero := int64(0)
	for _, p := range pods.Items {
		_ = n.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	}
	for {
		out, err := n.ctrd.ctr(ctx, "tasks", "ls", "-q")
		if err == nil && strings.TrimSpace(out) == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pods of node %s still running after 60s: %s", n.opts.Name, strings.Join(strings.Fields(out), " "))
		case <-time.After(500 * time.Millisecond):
		}
	}
}
