package multicluster

// Ready implements the ready plugin's Readiness interface. It is true once the
// watches have synced and the index holds every service, and also while the
// ServiceImport CRD is not installed: there is nothing to wait for then, and holding
// every CoreDNS pod unready would take cluster.local down with it. Forbidden access
// or an unreachable API server before the first sync keep it false, so a broken
// rollout stops; an outage after it does not (answers come from the last known state).
func (m *MultiCluster) Ready() bool {
	if m.ctrl == nil {
		return false
	}
	return m.ctrl.synced() || watchState(m.ctrl.state.Load()) == stateCRDMissing
}
