package clusterset

import (
	"net/netip"
	"testing"
)

func TestAddOffset(t *testing.T) {
	tests := []struct {
		base string
		n    uint32
		want string
	}{
		{"10.1.0.0", 10, "10.1.0.10"},
		{"10.1.0.0", 255, "10.1.0.255"},
		{"10.1.0.0", 256, "10.1.1.0"},
		{"10.1.0.250", 10, "10.1.1.4"},
		{"10.1.255.255", 1, "10.2.0.0"},
		{"fd00:2::", 0x1ff, "fd00:2::1ff"},
		{"fd00:2::ffff", 1, "fd00:2::1:0"},
	}
	for _, tc := range tests {
		if got := addOffset(netip.MustParseAddr(tc.base), tc.n); got.String() != tc.want {
			t.Errorf("addOffset(%s, %d) = %s, want %s", tc.base, tc.n, got, tc.want)
		}
	}
}
