package multicluster

import (
	"hash/fnv"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// records are the DNS names of one imported service, built when its ServiceImport or
// one of its EndpointSlices changes and never modified afterwards: queries read them
// without locks. Names are relative to "<svc>.<ns>.svc.<zone>" and lower case: ""
// is the service name itself, "_http._tcp" a named-port SRV name, "web-0.east" a
// per-endpoint name, "east" the empty non-terminal above it. Zone-independent, so
// one copy serves every zone of the plugin.
type records struct {
	names map[string]*node
	// digest identifies the answers; a rebuild with the same digest does not move
	// the SOA serial.
	digest uint64
	// endpoints is the number of distinct ready endpoint addresses served (headless).
	endpoints int
	headless  bool
}

// node holds the data of one name. A node with no data is an empty non-terminal:
// it exists (NODATA, RFC 8020) but answers nothing.
type node struct {
	// v4 and v6 are packed addresses (4 and 16 bytes each); answers slice them into
	// net.IP without allocating.
	v4, v6 []byte
	srv    *srvSet
}

// srvSet is the SRV RRset of a name plus the addresses of its targets, which go in
// the additional section (spec R3, R7).
type srvSet struct {
	recs []srvRec
	// extra lists, per target, the addresses for the additional section, in the order
	// the targets first appear in recs.
	extra []srvTarget
}

// srvRec is one SRV record; target is relative like the names of records.
type srvRec struct {
	target string
	port   uint16
}

// srvTarget is the packed addresses of the target of recs[rec].
type srvTarget struct {
	rec    int
	v4, v6 []byte
}

// build turns a ServiceImport and the EndpointSlices labelled with its name into the
// service's records (spec section 2). It returns nil when there is no ServiceImport:
// only ServiceImports create names (spec section 3). zoneLen is the length of the
// longest zone, used to drop names that would not fit in DNS.
// Skipped values are reported through logSkip.
func build(si *serviceImport, eps []*endpointSlice, zoneLen int, logSkip func(reason, detail string)) *records {
	if si == nil {
		return nil
	}
	b := &builder{
		r:     &records{names: map[string]*node{}, headless: si.headless},
		addrs: map[*node]map[netip.Addr]struct{}{},
		srvs:  map[*node]map[srvRec]struct{}{},
	}
	if si.headless {
		// The longest suffix a per-endpoint name gets: ".<svc>.<ns>.svc.<zone>".
		maxSuffix := 1 + len(si.name) + 1 + len(si.namespace) + len(".svc.") + zoneLen
		b.headless(si, eps, maxSuffix, logSkip)
	} else {
		b.clusterSetIP(si)
	}
	b.fillSRVExtra()
	b.r.digest = b.r.hash()
	return b.r
}

// builder keeps the sets that de-duplicate records while building (RFC 2181 §5: an
// RRset is a set), so large services build in linear time.
type builder struct {
	r     *records
	addrs map[*node]map[netip.Addr]struct{}
	srvs  map[*node]map[srvRec]struct{}
}

// clusterSetIP: the VIPs (R2), one SRV per named port (R3), and one SRV per distinct
// port number at the service name (R4). Endpoints are not published.
func (b *builder) clusterSetIP(si *serviceImport) {
	svc := b.node("")
	for _, a := range si.ips {
		if familyOf(a)&si.families != 0 {
			b.addAddr(svc, a)
		}
	}
	for _, p := range si.ports {
		rec := srvRec{target: "", port: p.port}
		b.addSRV("", rec)
		if p.name != "" {
			b.addSRV(srvName(p), rec)
		}
	}
}

// headless: the ready endpoint addresses (R5), per-endpoint names with the cluster id
// (R6), their named-port SRVs (R7) and the bare-name SRVs (R8).
func (b *builder) headless(si *serviceImport, eps []*endpointSlice, maxSuffix int, logSkip func(reason, detail string)) {
	// A stable order makes answers and AXFR deterministic whatever order the informer
	// lists the slices in.
	eps = slices.Clone(eps)
	slices.SortFunc(eps, func(a, c *endpointSlice) int {
		if d := strings.Compare(a.cluster, c.cluster); d != 0 {
			return d
		}
		return strings.Compare(a.name, c.name)
	})
	svc := b.node("")
	for _, s := range eps {
		if s.family&si.families == 0 {
			continue
		}
		for _, e := range s.endpoints {
			b.addAddr(svc, e.addr)
			if s.cluster == "" {
				// Spec §1: without a source cluster the address serves the service
				// name only; the controller logs the slice.
				continue
			}
			host := e.hostname
			if host == "" {
				host = addrHostname(e.addr)
			}
			name := host + "." + s.cluster
			if len(name)+maxSuffix > 254 || !fitsDNS(name+".") {
				logSkip(reasonLongName, name)
				continue
			}
			if _, ok := b.r.names[name]; !ok {
				b.addParents(name)
			}
			b.addAddr(b.node(name), e.addr)
			for _, p := range s.ports {
				rec := srvRec{target: name, port: p.port}
				b.addSRV("", rec)
				if p.name != "" && si.hasPort(p) {
					b.addSRV(srvName(p), rec)
				}
			}
		}
	}
	if len(svc.v4) == 0 && len(svc.v6) == 0 {
		// R5: no ready endpoint in any served family: the service name does not exist.
		clear(b.r.names)
		return
	}
	b.r.endpoints = len(svc.v4)/4 + len(svc.v6)/16
}

// hasPort reports whether the ServiceImport declares the named port p: only those get
// a "_<port>._<proto>" name (spec R7).
func (si *serviceImport) hasPort(p port) bool {
	for _, q := range si.ports {
		if q.name == p.name && q.proto == p.proto {
			return true
		}
	}
	return false
}

func srvName(p port) string { return "_" + p.name + "._" + p.proto }

func (b *builder) node(name string) *node {
	n, ok := b.r.names[name]
	if !ok {
		n = &node{}
		b.r.names[name] = n
	}
	return n
}

// addAddr adds a to n unless it is already there.
func (b *builder) addAddr(n *node, a netip.Addr) {
	set := b.addrs[n]
	if set == nil {
		set = map[netip.Addr]struct{}{}
		b.addrs[n] = set
	}
	if _, ok := set[a]; ok {
		return
	}
	set[a] = struct{}{}
	if a.Is4() {
		v := a.As4()
		n.v4 = append(n.v4, v[:]...)
		return
	}
	v := a.As16()
	n.v6 = append(n.v6, v[:]...)
}

// addSRV adds rec to the SRV set of name unless it is already there.
func (b *builder) addSRV(name string, rec srvRec) {
	n, ok := b.r.names[name]
	if !ok {
		n = b.node(name)
		b.addParents(name)
	}
	if n.srv == nil {
		n.srv = &srvSet{}
		b.srvs[n] = map[srvRec]struct{}{}
	}
	if _, ok := b.srvs[n][rec]; ok {
		return
	}
	b.srvs[n][rec] = struct{}{}
	n.srv.recs = append(n.srv.recs, rec)
}

// addParents creates the empty non-terminals between name and the service name:
// "_tcp" for "_http._tcp", "east.us" and "us" for "web-0.east.us" (RFC 8020; spec R9).
func (b *builder) addParents(name string) {
	for i := strings.IndexByte(name, '.'); i >= 0; i = strings.IndexByte(name, '.') {
		name = name[i+1:]
		b.node(name)
	}
}

// fillSRVExtra lists, next to every SRV set, its targets' addresses for the additional
// section.
func (b *builder) fillSRVExtra() {
	for _, n := range b.r.names {
		if n.srv == nil {
			continue
		}
		seen := make(map[string]struct{}, len(n.srv.recs))
		for i, rec := range n.srv.recs {
			if _, ok := seen[rec.target]; ok {
				continue
			}
			seen[rec.target] = struct{}{}
			if t, ok := b.r.names[rec.target]; ok && (len(t.v4) > 0 || len(t.v6) > 0) {
				n.srv.extra = append(n.srv.extra, srvTarget{rec: i, v4: t.v4, v6: t.v6})
			}
		}
	}
}

// sortedNames returns the names in a stable order, for AXFR and the digest.
func (r *records) sortedNames() []string {
	names := make([]string, 0, len(r.names))
	for name := range r.names {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// hash is a digest of everything an answer can contain.
func (r *records) hash() uint64 {
	h := fnv.New64a()
	for _, name := range r.sortedNames() {
		n := r.names[name]
		h.Write([]byte(name))
		h.Write([]byte{0, 4})
		h.Write(n.v4)
		h.Write([]byte{0, 6})
		h.Write(n.v6)
		if n.srv != nil {
			for _, rec := range n.srv.recs {
				h.Write([]byte(rec.target))
				h.Write([]byte(strconv.Itoa(int(rec.port))))
			}
		}
		h.Write([]byte{0})
	}
	return h.Sum64()
}
