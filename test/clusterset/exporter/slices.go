package exporter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"
)

// copyName names the copy of cluster's slice source: "<source>-<cluster>-<hash>", the hash
// (of cluster and source) keeping two pairs that join to the same text apart, the name cut to
// fit a DNS subdomain (253 characters). The name is a function of the source alone, so a
// restarted exporter finds its copies again, and several source slices (kube-controller-manager
// splits past 100 endpoints) get several copies. Cilium names its copies after the source
// slice too and cuts them at the same limit (pkg/clustermesh/mcsapi/testdata/
// endpointslice-mirror-names.txtar); Lighthouse uses generated names and finds its copies
// back through a source-name label (pkg/agent/controller/service_endpoint_slices.go).
func copyName(cluster, source string) string {
	sum := sha256.Sum256([]byte(cluster + "/" + source))
	suffix := "-" + hex.EncodeToString(sum[:4])
	base := source + "-" + cluster
	if max := validation.DNS1123SubdomainMaxLength - len(suffix); len(base) > max {
		base = strings.TrimRight(base[:max], "-.")
	}
	return base + suffix
}

// desiredCopy is what cluster's slice src of service looks like in every cluster. The
// endpoints (addresses, conditions, hostname, nodeName, zone, targetRef, hints), ports and
// address type are kube-controller-manager's, untouched. Dropped: ownerReferences (they
// name the Service of the exporting cluster: another cluster's garbage collector would
// delete the copy), the kubernetes.io/service-name label and the managed-by value
// (kube-controller-manager would take the slice for one of its own, and the mcs-api
// servicecontroller sets kubernetes.io/service-name to the derived Service itself,
// controllers/endpointslice.go), and every other label and annotation.
func desiredCopy(cluster, service string, src *discoveryv1.EndpointSlice, drop map[string]bool) *discoveryv1.EndpointSlice {
	out := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:      copyName(cluster, src.Name),
			Namespace: src.Namespace,
			Labels:    copyLabels(cluster, service),
		},
		AddressType: src.AddressType,
		Endpoints:   make([]discoveryv1.Endpoint, len(src.Endpoints)),
		Ports:       make([]discoveryv1.EndpointPort, 0, len(src.Ports)),
	}
	for i := range src.Endpoints {
		src.Endpoints[i].DeepCopyInto(&out.Endpoints[i])
	}
	for i := range src.Ports {
		if src.Ports[i].Name != nil && drop[*src.Ports[i].Name] {
			continue
		}
		var p discoveryv1.EndpointPort
		src.Ports[i].DeepCopyInto(&p)
		out.Ports = append(out.Ports, p)
	}
	return out
}

// losingPorts are, per exporting cluster, the names of its Service's ports that the merged
// import does not carry as they are (another cluster's older export holds the name for another
// number or protocol, or the number under another name: mergePorts). Their endpoints are left
// out of that cluster's copies, so traffic to the import's port reaches only the clusters
// that expose that port (KEP-1645 "Service Port"; the mcs-api conformance suite's
// StrictPortConflict specs).
func losingPorts(exps []exported, union []mcsv1beta1.ServicePort) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, x := range exps {
		for _, p := range x.spec.Ports {
			kept := slices.ContainsFunc(union, func(u mcsv1beta1.ServicePort) bool {
				return u.Name == p.Name && u.Port == p.Port && u.Protocol == p.Protocol
			})
			if !kept {
				if out[x.cluster] == nil {
					out[x.cluster] = map[string]bool{}
				}
				out[x.cluster][p.Name] = true
			}
		}
	}
	return out
}

// copyLabels are the labels the exporter owns on a copy (KEP-1645 "Using EndpointSlice
// objects to track endpoints"); on update the others (the servicecontroller's) are kept.
func copyLabels(cluster, service string) map[string]string {
	return map[string]string{
		mcsv1beta1.LabelServiceName:   service,
		mcsv1beta1.LabelSourceCluster: cluster,
		discoveryv1.LabelManagedBy:    ManagedBy,
	}
}

// syncSlices makes t's copies of ns/name the copies of the exporting clusters' slices, without
// the ports each cluster loses to another's export (losingPorts).
// Creates and updates go first and deletes last, so that while kube-controller-manager moves
// endpoints between slices a reader sees an endpoint twice rather than not at all.
func (e *exporter) syncSlices(ctx context.Context, t *member, ns, name string, exporters []string, losing map[string]map[string]bool) error {
	want := map[string]*discoveryv1.EndpointSlice{}
	for _, c := range exporters {
		for _, src := range e.member(c).sourceSlices(ns, name) {
			cp := desiredCopy(c, name, src, losing[c])
			want[cp.Name] = cp
		}
	}
	have := map[string]*discoveryv1.EndpointSlice{}
	for _, s := range t.copySlices(ns, name) {
		have[s.Name] = s
	}

	var errs []error
	for _, n := range slices.Sorted(maps.Keys(want)) {
		errs = append(errs, e.putCopy(ctx, t, want[n], have[n]))
	}
	for _, n := range slices.Sorted(maps.Keys(have)) {
		if _, ok := want[n]; !ok && have[n].DeletionTimestamp == nil {
			errs = append(errs, e.deleteCopy(ctx, t, have[n]))
		}
	}
	return errors.Join(errs...)
}

// putCopy creates or updates t's copy w; cur is the copy t's cache holds, if any. A copy
// the cache has not seen yet (written a moment ago) is read back from the API server.
func (e *exporter) putCopy(ctx context.Context, t *member, w, cur *discoveryv1.EndpointSlice) error {
	client := t.Kube.DiscoveryV1().EndpointSlices(w.Namespace)
	if cur == nil {
		_, err := client.Create(ctx, w, metav1.CreateOptions{})
		if err == nil {
			e.logf("exporter: %s: created EndpointSlice %s/%s (%d endpoints from %s)",
				t.Name, w.Namespace, w.Name, len(w.Endpoints), w.Labels[mcsv1beta1.LabelSourceCluster])
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating EndpointSlice %s: %w", w.Name, err)
		}
		if cur, err = client.Get(ctx, w.Name, metav1.GetOptions{}); err != nil {
			return fmt.Errorf("reading EndpointSlice %s: %w", w.Name, err)
		}
		if cur.Labels[discoveryv1.LabelManagedBy] != ManagedBy {
			return fmt.Errorf("EndpointSlice %s exists and is managed by %q, not the exporter", w.Name, cur.Labels[discoveryv1.LabelManagedBy])
		}
	}
	switch {
	case cur.DeletionTimestamp != nil:
		// Its delete event brings the service back here, to create it anew.
		return nil
	case cur.AddressType != w.AddressType:
		// addressType is immutable: replace the copy (its delete event recreates it).
		return e.deleteCopy(ctx, t, cur)
	}
	upd := cur.DeepCopy()
	if upd.Labels == nil {
		upd.Labels = map[string]string{}
	}
	maps.Copy(upd.Labels, w.Labels)
	upd.Endpoints, upd.Ports = w.Endpoints, w.Ports
	if maps.Equal(upd.Labels, cur.Labels) && apiequality.Semantic.DeepEqual(upd.Endpoints, cur.Endpoints) &&
		apiequality.Semantic.DeepEqual(upd.Ports, cur.Ports) {
		return nil
	}
	if _, err := client.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating EndpointSlice %s: %w", w.Name, err)
	}
	e.logf("exporter: %s: updated EndpointSlice %s/%s (%d endpoints)", t.Name, w.Namespace, w.Name, len(w.Endpoints))
	return nil
}

func (e *exporter) deleteCopy(ctx context.Context, t *member, s *discoveryv1.EndpointSlice) error {
	err := t.Kube.DiscoveryV1().EndpointSlices(s.Namespace).Delete(ctx, s.Name,
		deleteOptions(s.UID))
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting EndpointSlice %s: %w", s.Name, err)
	}
	e.logf("exporter: %s: deleted EndpointSlice %s/%s", t.Name, s.Namespace, s.Name)
	return nil
}
