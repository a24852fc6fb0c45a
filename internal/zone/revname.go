package zone

import (
	"net/netip"
	"strings"
)

// Reverse names (RFC 1035 §3.5, RFC 3596 §2.5) read as address prefixes: a name under
// in-addr.arpa. with n decimal labels is the /8n prefix of the IPv4 addresses it
// names, one under ip6.arpa. with n hexadecimal nibble labels the /4n prefix of IPv6
// addresses. A full-length name is one address; shorter names sit between a reverse
// zone's apex and its addresses.

const (
	revV4 = ".in-addr.arpa."
	revV6 = ".ip6.arpa."
)

// ReversePrefix returns the prefix a lower-case reverse name stands for, and false
// when the name is not one: a label that is not a canonical octet (0 to 255, no
// leading zero) or nibble, or more labels than an address has. It does not allocate:
// it runs for every reverse query.
func ReversePrefix(lname string) (netip.Prefix, bool) {
	switch lname {
	case revV4[1:]:
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0), true
	case revV6[1:]:
		return netip.PrefixFrom(netip.IPv6Unspecified(), 0), true
	}
	if rest, ok := strings.CutSuffix(lname, revV4); ok {
		return reversePrefix4(rest)
	}
	if rest, ok := strings.CutSuffix(lname, revV6); ok {
		return reversePrefix6(rest)
	}
	return netip.Prefix{}, false
}

// reversePrefix4 reads "d.c.b.a" (up to four labels, most significant last).
func reversePrefix4(rest string) (netip.Prefix, bool) {
	var v [4]byte
	n, ok := reverseLabels(rest, v[:], octet)
	if !ok {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(netip.AddrFrom4(v), 8*n), true
}

// reversePrefix6 reads nibble labels (up to 32, most significant last).
func reversePrefix6(rest string) (netip.Prefix, bool) {
	var v [32]byte
	n, ok := reverseLabels(rest, v[:], nibble)
	if !ok {
		return netip.Prefix{}, false
	}
	var b [16]byte
	for i := range n {
		b[i/2] |= v[i] << (4 * (1 - i%2))
	}
	return netip.PrefixFrom(netip.AddrFrom16(b), 4*n), true
}

// reverseLabels parses the labels of rest, most significant last, into vals, most
// significant first; it reports how many, and false when a label does not parse or
// there are more than vals holds.
func reverseLabels(rest string, vals []byte, parse func(string) (byte, bool)) (int, bool) {
	n := 0
	for rest != "" {
		i := strings.LastIndexByte(rest, '.')
		label := rest[i+1:]
		rest = rest[:max(i, 0)]
		v, ok := parse(label)
		if !ok || n == len(vals) {
			return 0, false
		}
		vals[n] = v
		n++
	}
	return n, true
}

// octet parses a canonical decimal octet label.
func octet(s string) (byte, bool) {
	if len(s) == 0 || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		v = 10*v + int(s[i]-'0')
	}
	if v > 255 {
		return 0, false
	}
	return byte(v), true
}

// nibble parses a one-character lower-case hexadecimal label.
func nibble(s string) (byte, bool) {
	if len(s) != 1 {
		return 0, false
	}
	switch c := s[0]; {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// reverseAncestors calls f with every prefix strictly between the root of the
// address's reverse tree and the address itself: the names that exist without data
// once the address has a PTR (/8 to /24 for IPv4, /4 to /124 for IPv6).
func reverseAncestors(a netip.Addr, f func(netip.Prefix)) {
	step := 8
	if a.Is6() {
		step = 4
	}
	for bits := step; bits < a.BitLen(); bits += step {
		p, _ := a.Prefix(bits)
		f(p)
	}
}
