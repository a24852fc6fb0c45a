package multicluster

import (
	"errors"
	"net"
	"reflect"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/transfer"
)

// The transfer plugin sends NOTIFY from the address its "source" option names, else
// from the one the kernel picks (plugin/transfer/notify.go, CoreDNS v1.15.0), whatever
// address the server block is bound to. A secondary accepts NOTIFY from its primaries
// only (BIND 9: "refused notify from non-primary"), and knows this server by the bound
// address: so the plugin sends NOTIFY itself (notifysend.go), to the same hosts. The
// transfer plugin exports neither its "to" hosts nor its "source"; they are read here
// from its parsed stanzas, read-only, once at start-up. A CoreDNS whose transfer plugin
// is laid out differently fails TestTransferStanzas, and at run time falls back to the
// transfer plugin's own NOTIFY.

// xfrStanza is one parsed "transfer [ZONES...] { to HOST:PORT...; source ADDRESS }".
type xfrStanza struct {
	zones  []string
	to     []string // host:port, or "*"
	source net.IP   // nil when not set
}

var errTransferLayout = errors.New("the transfer plugin's stanzas cannot be read (not CoreDNS v1.15's layout)")

// transferStanzas reads the stanzas of the transfer plugin t.
func transferStanzas(t *transfer.Transfer) ([]xfrStanza, error) {
	if t == nil {
		return nil, nil
	}
	xfrs := reflect.ValueOf(t).Elem().FieldByName("xfrs")
	if xfrs.Kind() != reflect.Slice {
		return nil, errTransferLayout
	}
	var out []xfrStanza
	for i := range xfrs.Len() {
		x := xfrs.Index(i)
		if x.Kind() == reflect.Pointer {
			if x.IsNil() {
				continue
			}
			x = x.Elem()
		}
		if x.Kind() != reflect.Struct {
			return nil, errTransferLayout
		}
		zones, ok1 := stringsOf(x.FieldByName("Zones"))
		to, ok2 := stringsOf(x.FieldByName("to"))
		src := x.FieldByName("source")
		if !ok1 || !ok2 || src.Kind() != reflect.Slice || src.Type().Elem().Kind() != reflect.Uint8 {
			return nil, errTransferLayout
		}
		st := xfrStanza{zones: zones, to: to}
		if src.Len() > 0 {
			st.source = net.IP(append([]byte(nil), src.Bytes()...))
		}
		out = append(out, st)
	}
	return out, nil
}

// stringsOf copies a []string field.
func stringsOf(v reflect.Value) ([]string, bool) {
	if v.Kind() != reflect.Slice || v.Type().Elem().Kind() != reflect.String {
		return nil, false
	}
	out := make([]string, v.Len())
	for i := range out {
		out[i] = v.Index(i).String()
	}
	return out, true
}

// stanzaFor returns the stanza the transfer plugin uses for zone: the longest match
// of its zones, as the transfer plugin picks it (longestMatch), or nil.
func stanzaFor(stanzas []xfrStanza, zone string) *xfrStanza {
	var best *xfrStanza
	longest := ""
	for i := range stanzas {
		if z := plugin.Zones(stanzas[i].zones).Matches(zone); z != "" && (len(z) > len(longest) || (len(z) == len(longest) && z > longest)) {
			best, longest = &stanzas[i], z
		}
	}
	return best
}
