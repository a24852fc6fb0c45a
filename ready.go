package multicluster

// Ready implements the ready plugin's Readiness interface.
//
// It turns true the first time the watches have synced (the index holds every service
// of the initial list), or the first time the ServiceImport CRD is found missing (there
// is nothing to wait for, and holding every CoreDNS pod unready would take cluster.local
// down with it). Once true it stays true for the life of this plugin instance: a CRD
// installed later (which starts a new sync), RBAC that does not yet allow a newly
// installed CRD, a relist, or an API server outage change what this plugin answers for
// its zones (SERVFAIL for would-be NXDOMAIN, or the last known state) but must not turn
// a whole fleet of replicas unready at once. Before that first time, forbidden access or
// an unreachable API server keep it false, so a broken rollout stops.
func (m *MultiCluster) Ready() bool {
	return m.ctrl != nil && m.ctrl.ready.Load()
}
