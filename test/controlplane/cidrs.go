package controlplane

import (
	"fmt"
	"net"
	"net/netip"
)

// serviceCIDRs checks Options.ServiceCIDRs as kube-apiserver would (one CIDR, or two of
// different families) and returns them, or the default.
func serviceCIDRs(given []string) ([]string, error) {
	if len(given) == 0 {
		return []string{ServiceClusterIPRange}, nil
	}
	if len(given) > 2 {
		return nil, fmt.Errorf("ServiceCIDRs: %d CIDRs given, want one, or two of different families", len(given))
	}
	var families []bool
	for _, s := range given {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("ServiceCIDRs: %w", err)
		}
		if p != p.Masked() {
			return nil, fmt.Errorf("ServiceCIDRs: %s has host bits set (want %s)", s, p.Masked())
		}
		families = append(families, p.Addr().Is4())
	}
	if len(families) == 2 && families[0] == families[1] {
		return nil, fmt.Errorf("ServiceCIDRs: %v are of one family; a dual-stack cluster has one of each", given)
	}
	return append([]string(nil), given...), nil
}

// firstServiceIPs returns the first address of each CIDR: the ClusterIP kube-apiserver
// gives the kubernetes Service, which its serving certificate names.
func firstServiceIPs(cidrs []string) []net.IP {
	var ips []net.IP
	for _, s := range cidrs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			continue // serviceCIDRs has checked them
		}
		ips = append(ips, net.IP(p.Masked().Addr().Next().AsSlice()))
	}
	return ips
}

// ServiceCIDRs are the API server's service CIDRs, the primary family first.
func (c *ControlPlane) ServiceCIDRs() []string { return append([]string(nil), c.serviceCIDRs...) }
