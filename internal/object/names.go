package object

import (
	"net/netip"
	"strings"
)

// IsLabel reports whether s is an RFC 1123 DNS label in lower case: 1-63 characters of
// [a-z0-9-], not starting or ending with '-'. Kubernetes validates hostnames, port
// names and cluster ids against it.
func IsLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// IsSubdomain reports whether s is an RFC 1123 DNS subdomain: dot-separated labels, at
// most 253 characters. Cluster ids may be one (KEP-2149 allows a subdomain).
func IsSubdomain(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if !IsLabel(l) {
			return false
		}
	}
	return true
}

// AddrHostname is the per-endpoint name of an endpoint without a hostname: the
// address with '.' and ':' replaced by '-', and a trailing '-' (IPv6 "fd00::") closed
// with '0' so that it remains a valid label (spec R6).
func AddrHostname(a netip.Addr) string {
	h := strings.Map(func(r rune) rune {
		if r == '.' || r == ':' {
			return '-'
		}
		return r
	}, a.String())
	if strings.HasSuffix(h, "-") {
		h += "0"
	}
	return h
}

// FitsDNS reports whether the name (with trailing dot) fits the DNS limits of RFC 1035
// §2.3.4: 255 octets on the wire, that is 253 characters without the root dot, and
// labels of at most 63 octets.
func FitsDNS(name string) bool {
	if len(name) > 254 {
		return false
	}
	start := 0
	for i := 0; i < len(name); i++ {
		if name[i] == '.' {
			if i-start > 63 {
				return false
			}
			start = i + 1
		}
	}
	return len(name)-start <= 63
}
