package controlplane

import (
	"net"
	"slices"
	"testing"
)

func TestServiceCIDRs(t *testing.T) {
	tests := []struct {
		given   []string
		want    []string
		wantErr bool
	}{
		{given: nil, want: []string{ServiceClusterIPRange}},
		{given: []string{"10.97.0.0/16"}, want: []string{"10.97.0.0/16"}},
		{given: []string{"10.97.0.0/16", "fd00:97::/112"}, want: []string{"10.97.0.0/16", "fd00:97::/112"}},
		{given: []string{"fd00:97::/112", "10.97.0.0/16"}, want: []string{"fd00:97::/112", "10.97.0.0/16"}},
		{given: []string{"10.97.0.0/16", "10.98.0.0/16"}, wantErr: true},              // one family twice
		{given: []string{"10.97.0.1/16"}, wantErr: true},                              // host bits
		{given: []string{"10.97.0.0"}, wantErr: true},                                 // not a CIDR
		{given: []string{"10.97.0.0/16", "fd00::/112", "10.1.0.0/16"}, wantErr: true}, // three
	}
	for _, tc := range tests {
		got, err := serviceCIDRs(tc.given)
		if (err != nil) != tc.wantErr {
			t.Errorf("serviceCIDRs(%q): error %v, want error %v", tc.given, err, tc.wantErr)
			continue
		}
		if err == nil && !slices.Equal(got, tc.want) {
			t.Errorf("serviceCIDRs(%q) = %q, want %q", tc.given, got, tc.want)
		}
	}
}

func TestFirstServiceIPs(t *testing.T) {
	got := firstServiceIPs([]string{"10.97.0.0/16", "fd00:97::/112"})
	want := []net.IP{net.ParseIP("10.97.0.1"), net.ParseIP("fd00:97::1")}
	if len(got) != len(want) {
		t.Fatalf("firstServiceIPs = %v, want %v", got, want)
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Errorf("firstServiceIPs[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}
