package multicluster

// Ready implements the ready plugin's Readiness interface. It is true once the
// watches have synced and the index holds every service, and also while the
// ServiceImport CRD is not installed: there is nothing to wait for then, and holding
// every CoreDNS pod unready would take cluster.local down with it. Forbidden access
// or an unreachable API server keep it false, so a broken rollout stops.
func (m *MultiCluster) Ready() bool {
	if m.ctrl == nil {
		return false
	}
	s := watchState(m.ctrl.state.Load())
	return s == stateSynced || s == stateCRDMissing
}
