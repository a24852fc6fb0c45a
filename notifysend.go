package multicluster

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/coredns/coredns/plugin/pkg/rcode"

	"github.com/miekg/dns"
)

// notifySender sends the NOTIFY messages of one zone to the hosts of the transfer
// plugin's stanza for it (xfrstanza.go), from the server block's bound address: a
// secondary accepts NOTIFY only from the primary it knows (RFC 1996 §3.10 lets it
// ignore others; BIND 9 does unless allow-notify says otherwise). The source is, in
// order: the stanza's "source" option, the first address of the target's family the
// server block is bound to (the bind plugin), else the one the kernel picks.
type notifySender struct {
	stanzas []xfrStanza
	bound   []netip.Addr
	// timeout bounds one exchange (dns.Client's default is 2 s per step).
	timeout time.Duration
}

// notifyResult is what one NOTIFY round of a zone came to.
type notifyResult struct {
	acked  int     // secondaries that acknowledged it (NOERROR)
	failed []error // one per secondary that did not, after three tries
}

// newNotifySender returns a sender for the transfer plugin's stanzas and the server
// block's listen hosts (the bind plugin's addresses; "" is the wildcard).
func newNotifySender(stanzas []xfrStanza, listen []string) *notifySender {
	s := &notifySender{stanzas: stanzas}
	for _, h := range listen {
		if a, err := netip.ParseAddr(h); err == nil && !a.IsUnspecified() && a.Zone() == "" {
			s.bound = append(s.bound, a.Unmap())
		}
	}
	return s
}

// send notifies the secondaries of zone (lower case, fully qualified).
func (s *notifySender) send(zone string) notifyResult {
	var res notifyResult
	st := stanzaFor(s.stanzas, zone)
	if st == nil {
		return res
	}
	msg := new(dns.Msg)
	msg.SetNotify(zone)
	for _, to := range st.to {
		if to == "*" {
			continue // "to *" allows any transfer and notifies no one
		}
		if err := s.notify(msg, to, s.source(st, to)); err != nil {
			res.failed = append(res.failed, err)
			continue
		}
		res.acked++
	}
	return res
}

// source is the address NOTIFYs to target (host:port) leave from; nil lets the kernel
// pick.
func (s *notifySender) source(st *xfrStanza, target string) net.IP {
	if st.source != nil {
		return st.source
	}
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return nil
	}
	t, err := netip.ParseAddr(host)
	if err != nil {
		return nil
	}
	for _, b := range s.bound {
		if b.Is4() == t.Unmap().Is4() {
			return b.AsSlice()
		}
	}
	return nil
}

// notify sends msg to target from src, up to three times, until it is acknowledged,
// as the transfer plugin does (sendNotify).
func (s *notifySender) notify(msg *dns.Msg, target string, src net.IP) error {
	c := &dns.Client{Timeout: s.timeout}
	if src != nil {
		c.Dialer = &net.Dialer{LocalAddr: &net.UDPAddr{IP: src}, Timeout: s.timeout}
	}
	code := dns.RcodeServerFailure
	var err error
	for range 3 {
		var ret *dns.Msg
		ret, _, err = c.Exchange(msg, target)
		if err != nil {
			continue
		}
		if code = ret.Rcode; code == dns.RcodeSuccess {
			return nil
		}
	}
	from := "the kernel's choice of address"
	if src != nil {
		from = src.String()
	}
	if err != nil {
		return fmt.Errorf("not accepted by %s (sent from %s): %w", target, from, err)
	}
	return fmt.Errorf("not accepted by %s (sent from %s): rcode %s", target, from, rcode.ToString(code))
}
