package clusterset

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Set is a Deployment-like or StatefulSet-like group of Pods, labelled app=<App>, named
// <App>-<i>. A stateful set's pods have hostname <App>-<i> and subdomain Service, as a
// StatefulSet's pods have behind its governing headless Service.
type Set struct {
	Namespace, App string
	// Stateful gives the pods hostname and subdomain.
	Stateful bool
	// Service is the governing Service of a stateful set (spec.subdomain).
	Service string
}

// PodName is the name of the set's i-th pod.
func (s Set) PodName(i int) string { return s.App + "-" + strconv.Itoa(i) }

// Labels are the pods' labels, which the Services select.
func (s Set) Labels() map[string]string { return map[string]string{"app": s.App} }

// Scale makes the set have exactly n running, ready pods <App>-0 .. <App>-(n-1) in c:
// missing ones are created (a few at a time), ones above n removed at once. It returns the
// addresses of the pods it created, by pod name.
func (c *Cluster) Scale(ctx context.Context, s Set, n int) (map[string][]string, error) {
	pods, err := c.Clients.Kube.CoreV1().Pods(s.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + s.App})
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	var extra []string
	for _, p := range pods.Items {
		have[p.Name] = true
		if i, err := strconv.Atoi(p.Name[len(s.App)+1:]); err != nil || i >= n {
			extra = append(extra, p.Name)
		}
	}
	var missing []PodSpec
	for i := range n {
		name := s.PodName(i)
		if have[name] {
			continue
		}
		ps := PodSpec{Namespace: s.Namespace, Name: name, Labels: s.Labels()}
		if s.Stateful {
			ps.Hostname, ps.Subdomain = name, s.Service
		}
		missing = append(missing, ps)
	}
	created := map[string][]string{}
	var mu sync.Mutex
	err = parallel(len(missing), func(i int) error {
		ips, err := c.CreatePod(ctx, missing[i], true)
		mu.Lock()
		created[missing[i].Name] = ips
		mu.Unlock()
		return err
	})
	if err != nil {
		return created, err
	}
	sort.Strings(extra)
	return created, parallel(len(extra), func(i int) error { return c.RemovePod(ctx, s.Namespace, extra[i]) })
}

// parallel runs f(0..n-1), four at a time, and returns the first error.
func parallel(n int, f func(i int) error) error {
	const workers = 4
	errs := make(chan error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs <- f(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// ServiceSpec is a Service selecting a Set.
type ServiceSpec struct {
	Namespace, Name string
	// Selector is the Set whose pods it selects.
	Selector Set
	Ports    []corev1.ServicePort
	// Headless makes clusterIP None.
	Headless bool
	// DualStack asks for both families (ipFamilyPolicy RequireDualStack).
	DualStack bool
	// TrafficDistribution is spec.trafficDistribution ("" for none).
	TrafficDistribution string
}

// CreateService creates the Service and returns it as the API server stored it (ClusterIPs
// allocated).
func (c *Cluster) CreateService(ctx context.Context, s ServiceSpec) (*corev1.Service, error) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: s.Name},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: s.Selector.Labels(),
			Ports:    s.Ports,
		},
	}
	if s.Headless {
		svc.Spec.ClusterIP = corev1.ClusterIPNone
	}
	if s.DualStack {
		policy := corev1.IPFamilyPolicyRequireDualStack
		svc.Spec.IPFamilyPolicy = &policy
	}
	if s.TrafficDistribution != "" {
		svc.Spec.TrafficDistribution = &s.TrafficDistribution
	}
	out, err := c.Clients.Kube.CoreV1().Services(s.Namespace).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("cluster %s: creating Service %s/%s: %w", c.Name, s.Namespace, s.Name, err)
	}
	return out, nil
}

// UpdateService reads the Service, lets change edit it and writes it back, retrying on a
// conflict (a controller may write it meanwhile).
func (c *Cluster) UpdateService(ctx context.Context, ns, name string, change func(*corev1.Service)) error {
	api := c.Clients.Kube.CoreV1().Services(ns)
	for attempt := 0; ; attempt++ {
		svc, err := api.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		change(svc)
		_, err = api.Update(ctx, svc, metav1.UpdateOptions{})
		if err == nil || attempt == 5 || !isConflict(err) {
			if err != nil {
				return fmt.Errorf("cluster %s: updating Service %s/%s: %w", c.Name, ns, name, err)
			}
			return nil
		}
	}
}
