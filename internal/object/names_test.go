package object

import (
	"net/netip"
	"strings"
	"testing"
)

func TestIsLabel(t *testing.T) {
	for s, want := range map[string]bool{
		"web": true, "a": true, "0": true, "web-1": true, strings.Repeat("a", 63): true,
		"": false, "-web": false, "web-": false, "Web": false, "web.prod": false, "web_1": false,
		strings.Repeat("a", 64): false,
	} {
		if got := IsLabel(s); got != want {
			t.Errorf("IsLabel(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestIsSubdomain(t *testing.T) {
	long := strings.Repeat(strings.Repeat("a", 63)+".", 4)[:254]
	for s, want := range map[string]bool{
		"east": true, "east.example.org": true, long[:253]: true,
		"": false, "east.": false, ".east": false, "east..org": false, "East": false, long: false,
	} {
		if got := IsSubdomain(s); got != want {
			t.Errorf("IsSubdomain(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestAddrHostname(t *testing.T) {
	for addr, want := range map[string]string{
		"10.0.0.1":   "10-0-0-1",
		"fd00::1":    "fd00--1",
		"fd00::":     "fd00--0",
		"2001:db8::": "2001-db8--0",
	} {
		if got := AddrHostname(netip.MustParseAddr(addr)); got != want {
			t.Errorf("AddrHostname(%s) = %q, want %q", addr, got, want)
		}
	}
}

func TestFitsDNS(t *testing.T) {
	label := strings.Repeat("a", 63)
	for name, want := range map[string]bool{
		"web.prod.svc.clusterset.local.":         true,
		label + ".clusterset.local.":             true,
		label + "a.clusterset.local.":            false,
		strings.Repeat(label+".", 4)[:254]:       true,
		strings.Repeat(label+".", 4)[:254] + "a": false,
	} {
		if got := FitsDNS(name); got != want {
			t.Errorf("FitsDNS(%d chars) = %v, want %v", len(name), got, want)
		}
	}
}
