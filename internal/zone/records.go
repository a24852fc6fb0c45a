package zone

import (
	"cmp"
	"encoding/binary"
	"hash/fnv"
	"net/netip"
	"slices"
	"strings"

	"github.com/mcs-dns/multicluster/internal/object"
)

// Records are the DNS data of one imported service, built when its ServiceImport or
// one of its EndpointSlices changes and never modified afterwards: queries read them
// without locks. Everything is relative to "<svc>.<ns>.svc.<zone>" and zone-free, so
// one copy serves every zone. The layout is compact on purpose: a headless service's
// records cost a few dozen bytes per endpoint (strings are shared with the object
// store, addresses are packed), see BENCHMARKS.md.
type Records struct {
	// V4 and V6 are the service name's packed addresses (4 and 16 bytes each):
	// the VIPs of a ClusterSetIP service, the ready endpoints of a headless one.
	V4, V6 []byte
	// SRV is the SRV RRset of the service name (spec R4, R8), nil when empty.
	SRV *SRVSet
	// Ports are the "_<port>._<proto>" SRV names (spec R3, R7), sorted by name.
	Ports []portSRV
	// Names are the per-endpoint names "<hostname>.<clusterid>" (spec R6), sorted.
	Names []endpointName
	// Addrs holds the packed addresses of names.
	Addrs []byte
	// ents are the empty non-terminals below the service name ("_tcp", cluster ids and
	// their parent labels): they exist without data (RFC 8020; spec R9). Sorted.
	ents []string
	// Exists is false for a headless service without ready endpoints: the service
	// name does not exist (spec R5), though its namespace does.
	Exists bool
	// digest identifies the answers; a rebuild with the same digest does not move
	// the SOA serial.
	digest uint64
	// Endpoints is the number of distinct ready endpoint addresses served (headless).
	Endpoints int
	Headless  bool
	// Narrowed: the service name's sets hold the local cluster's endpoints only
	// (locality.go).
	Narrowed bool
}

// endpointName is one per-endpoint name and where its addresses are in addrs: n4 IPv4
// addresses then n6 IPv6 addresses from off. Several endpoints may share a name.
type endpointName struct {
	Host, Cluster string
	off           uint32
	n4, n6        uint16
}

// portSRV is a named-port SRV name and its records.
type portSRV struct {
	Name string // "_http._tcp"
	Set  *SRVSet
}

// SRVSet is an SRV RRset, sorted by target then port so that records with the same
// target are adjacent.
type SRVSet struct {
	recs []srvRec
	// Local: the records are the local cluster's subset of the set (locality.go).
	Local bool
}

// srvRec is one SRV record: its target is names[target], or the service name itself
// when target is -1.
type srvRec struct {
	target int32
	port   uint16
}

const serviceTarget = -1

// OnlyService reports whether every record of the set targets the service name itself
// (a ClusterSetIP service).
func (s *SRVSet) OnlyService() bool {
	for _, rec := range s.recs {
		if rec.target != serviceTarget {
			return false
		}
	}
	return true
}

// Build turns a ServiceImport and the EndpointSlices labelled with its name into the
// service's records (spec section 2). It returns nil when there is no ServiceImport:
// only ServiceImports create names (spec section 3). zoneLen is the length of the
// longest zone, used to drop names that would not fit in DNS. Skipped values are
// reported through logSkip.
func Build(si *object.ServiceImport, eps []*object.EndpointSlice, zoneLen int, logSkip func(reason, detail string)) *Records {
	return BuildLocal(si, eps, zoneLen, "", logSkip)
}

// BuildLocal is build for a service whose name prefers the endpoints of cluster local
// ("" for none; see locality.go).
func BuildLocal(si *object.ServiceImport, eps []*object.EndpointSlice, zoneLen int, local string, logSkip func(reason, detail string)) *Records {
	if si == nil || si.Ignored {
		return nil
	}
	// "<svc>.<ns>.svc.<zone>" must fit in 253 characters (RFC 1035 §2.3.4).
	if len(si.Name)+1+len(si.Namespace)+len(".svc.")+zoneLen > 254 {
		logSkip(object.ReasonLongName, si.Name+"."+si.Namespace+".svc")
		return nil
	}
	r := &Records{Headless: si.Headless, Exists: true}
	switch {
	case si.Headless:
		// The longest suffix a per-endpoint name gets: ".<svc>.<ns>.svc.<zone>".
		maxSuffix := 1 + len(si.Name) + 1 + len(si.Namespace) + len(".svc.") + zoneLen
		buildHeadless(r, si, eps, maxSuffix, local, logSkip)
	case si.VIPsFromSlices:
		buildSliceVIPs(r, si, eps, local)
	default:
		buildClusterSetIP(r, si)
	}
	r.digest = r.hash()
	return r
}

// buildClusterSetIP: the VIPs (R2), one SRV per named port (R3), and one SRV per
// distinct port number at the service name (R4). Endpoints are not published.
func buildClusterSetIP(r *Records, si *object.ServiceImport) {
	var addrs []netip.Addr
	for _, a := range si.IPs {
		if object.FamilyOf(a)&si.Families != 0 && !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	r.V4, r.V6 = Pack(addrs)
	r.serviceSRV(si.Ports)
}

// serviceSRV sets the SRV records of a service whose target is the service name:
// one per named port (R3) and one per distinct port number at the name (R4).
func (r *Records) serviceSRV(ports []object.Port) {
	if len(r.V4) == 0 && len(r.V6) == 0 {
		// No address to serve (no ips, or none of a listed family): an SRV record whose
		// target has no address cannot be used (RFC 2782: the client connects to the
		// target's A/AAAA), and a zone holding one fails BIND's integrity check
		// (named-checkzone -i full). The service name still exists (NODATA).
		return
	}
	var bare []srvRec
	named := map[string][]srvRec{}
	for _, p := range ports {
		rec := srvRec{target: serviceTarget, port: p.Port}
		bare = append(bare, rec)
		if p.Name != "" {
			named[srvName(p)] = append(named[srvName(p)], rec)
		}
	}
	r.SRV = newSRVSet(bare)
	r.setPorts(named, nil)
}

// candidate is one ready endpoint address with a per-endpoint name, while building.
type candidate struct {
	Host, Cluster string
	Addr          netip.Addr
	Ports         []object.Port
}

// buildHeadless: the ready endpoint addresses (R5), per-endpoint names with the
// cluster id (R6), their named-port SRVs (R7) and the bare-name SRVs (R8).
func buildHeadless(r *Records, si *object.ServiceImport, eps []*object.EndpointSlice, maxSuffix int, localCluster string, logSkip func(reason, detail string)) {
	var all []netip.Addr
	var cands []candidate
	// pairs are collected only for a service that prefers a cluster.
	var pairs []ClusterAddr
	for _, s := range eps {
		if s.Family&si.Families == 0 {
			continue
		}
		for _, e := range s.Endpoints {
			all = append(all, e.Addr)
			if localCluster != "" {
				pairs = append(pairs, ClusterAddr{Cluster: s.Cluster, Addr: e.Addr})
			}
			if s.Cluster == "" {
				// Spec §1: without a source cluster the address serves the service
				// name only; the controller logs the slice.
				continue
			}
			host := e.Hostname
			if host == "" {
				host = object.AddrHostname(e.Addr)
			}
			if n := len(host) + 1 + len(s.Cluster); n+maxSuffix > 254 || !object.FitsDNS(host+"."+s.Cluster+".") {
				logSkip(object.ReasonLongName, host+"."+s.Cluster)
				continue
			}
			cands = append(cands, candidate{Host: host, Cluster: s.Cluster, Addr: e.Addr, Ports: s.Ports})
		}
	}
	slices.SortFunc(all, netip.Addr.Compare)
	all = slices.Compact(all)
	if len(all) == 0 {
		// R5: no ready endpoint in any served family: the service name does not exist.
		r.Exists = false
		return
	}
	r.Endpoints = len(all)
	r.V4, r.V6 = Pack(all)
	if sub, ok := LocalSubset(pairs, localCluster); ok {
		r.V4, r.V6 = Pack(sub)
		r.Narrowed = true
	}

	// Group the candidates by name; each name's addresses are packed IPv4 first.
	slices.SortFunc(cands, func(a, b candidate) int {
		return cmp.Or(strings.Compare(a.Host, b.Host), strings.Compare(a.Cluster, b.Cluster), a.Addr.Compare(b.Addr))
	})
	var bare []srvRec
	named := map[string][]srvRec{}
	local := map[string]bool{} // the sets narrowed to the local cluster (locality.go)
	ents := map[string]struct{}{}
	for i := 0; i < len(cands); {
		j := i
		for j < len(cands) && cands[j].Host == cands[i].Host && cands[j].Cluster == cands[i].Cluster {
			j++
		}
		group := make([]netip.Addr, 0, j-i)
		for _, c := range cands[i:j] {
			group = append(group, c.Addr)
		}
		group = slices.Compact(group)
		v4, v6 := Pack(group)
		v4, v6 = capName(v4, v6, cands[i].Host+"."+cands[i].Cluster, logSkip)
		target := int32(len(r.Names))
		r.Names = append(r.Names, endpointName{
			Host: cands[i].Host, Cluster: cands[i].Cluster,
			off: uint32(len(r.Addrs)), n4: uint16(len(v4) / 4), n6: uint16(len(v6) / 16),
		})
		r.Addrs = append(append(r.Addrs, v4...), v6...)
		for c := cands[i].Cluster; ; {
			ents[c] = struct{}{}
			dot := strings.IndexByte(c, '.')
			if dot < 0 {
				break
			}
			c = c[dot+1:]
		}
		for _, c := range cands[i:j] {
			for _, p := range c.Ports {
				rec := srvRec{target: target, port: p.Port}
				bare = append(bare, rec)
				// Spec R7 takes the port from the slice; an import without ports
				// (Lighthouse keeps headless imports' ports on the slices only) names
				// none, so every named slice port gets its SRV name.
				if p.Name != "" && (len(si.Ports) == 0 || si.HasPort(p)) {
					named[srvName(p)] = append(named[srvName(p)], rec)
				}
			}
		}
		i = j
	}
	if r.Narrowed {
		bare, local[""] = localSRV(bare, r.Names, localCluster)
		for name, recs := range named {
			named[name], local[name] = localSRV(recs, r.Names, localCluster)
		}
	}
	r.SRV = newSRVSet(bare)
	if r.SRV != nil {
		r.SRV.Local = local[""]
	}
	r.setPorts(named, local)
	for e := range ents {
		r.ents = append(r.ents, e)
	}
	r.addENTs()
}

// MaxNameAddrs is the most addresses of one family a per-endpoint name holds. No DNS
// message can carry more records in a section (the counts are 16 bits, RFC 1035 §4.1.1)
// and 65,535 A records are far beyond the 64 KiB a message can hold anyway.
const MaxNameAddrs = 1<<16 - 1

// capName keeps at most maxNameAddrs addresses per family for one per-endpoint name.
func capName(v4, v6 []byte, name string, logSkip func(reason, detail string)) ([]byte, []byte) {
	if len(v4) > MaxNameAddrs*4 || len(v6) > MaxNameAddrs*16 {
		logSkip(object.ReasonTooMany, name)
		v4 = v4[:min(len(v4), MaxNameAddrs*4)]
		v6 = v6[:min(len(v6), MaxNameAddrs*16)]
	}
	return v4, v6
}

// setPorts installs the named-port SRV sets and the "_<proto>" empty non-terminals;
// local names the sets that hold the local cluster's subset.
func (r *Records) setPorts(named map[string][]srvRec, local map[string]bool) {
	for name, recs := range named {
		set := newSRVSet(recs)
		set.Local = local[name]
		// A service with one port has the same records under its name and its port
		// name: share them.
		if r.SRV != nil && slices.Equal(set.recs, r.SRV.recs) && set.Local == r.SRV.Local {
			set = r.SRV
		}
		r.Ports = append(r.Ports, portSRV{Name: name, Set: set})
		r.ents = append(r.ents, name[strings.IndexByte(name, '.')+1:])
	}
	slices.SortFunc(r.Ports, func(a, b portSRV) int { return strings.Compare(a.Name, b.Name) })
	r.addENTs()
}

func (r *Records) addENTs() {
	slices.Sort(r.ents)
	r.ents = slices.Compact(r.ents)
}

func newSRVSet(recs []srvRec) *SRVSet {
	if len(recs) == 0 {
		return nil
	}
	slices.SortFunc(recs, func(a, b srvRec) int { return cmp.Or(cmp.Compare(a.target, b.target), cmp.Compare(a.port, b.port)) })
	// RFC 2181 §5: an RRset is a set.
	return &SRVSet{recs: slices.Clip(slices.Compact(recs))}
}

func srvName(p object.Port) string { return "_" + p.Name + "._" + p.Proto }

// Pack packs distinct addresses by family, in order.
func Pack(addrs []netip.Addr) (v4, v6 []byte) {
	for _, a := range addrs {
		if a.Is4() {
			b := a.As4()
			v4 = append(v4, b[:]...)
		} else {
			b := a.As16()
			v6 = append(v6, b[:]...)
		}
	}
	return slices.Clip(v4), slices.Clip(v6)
}

// LookupName finds the per-endpoint name host.cluster.
func (r *Records) LookupName(host, cluster string) (endpointName, bool) {
	i, ok := slices.BinarySearchFunc(r.Names, endpointName{Host: host, Cluster: cluster}, func(e, t endpointName) int {
		return cmp.Or(strings.Compare(e.Host, t.Host), strings.Compare(e.Cluster, t.Cluster))
	})
	if !ok {
		return endpointName{}, false
	}
	return r.Names[i], true
}

// LookupPort finds the SRV set of a "_<port>._<proto>" name.
func (r *Records) LookupPort(name string) *SRVSet {
	for i := range r.Ports {
		if r.Ports[i].Name == name {
			return r.Ports[i].Set
		}
	}
	return nil
}

// IsENT reports whether name is an empty non-terminal below the service name.
func (r *Records) IsENT(name string) bool {
	_, ok := slices.BinarySearch(r.ents, name)
	return ok
}

// NameAddrs returns the packed addresses of a per-endpoint name.
func (r *Records) NameAddrs(n endpointName) (v4, v6 []byte) {
	end4 := n.off + uint32(n.n4)*4
	return r.Addrs[n.off:end4:end4], r.Addrs[end4 : end4+uint32(n.n6)*16 : end4+uint32(n.n6)*16]
}

// targetAddrs returns the packed addresses of an SRV target.
func (r *Records) targetAddrs(target int32) (v4, v6 []byte) {
	if target == serviceTarget {
		return r.V4, r.V6
	}
	return r.NameAddrs(r.Names[target])
}

// Digest identifies the answers: records with the same digest answer alike, and
// publishing them in place of each other does not move the serial.
func (r *Records) Digest() uint64 { return r.digest }

// hash is a digest of everything an answer can contain.
func (r *Records) hash() uint64 {
	h := fnv.New64a()
	var buf [8]byte
	word := func(v uint64) {
		binary.LittleEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	str := func(s string) {
		word(uint64(len(s)))
		h.Write([]byte(s))
	}
	srv := func(s *SRVSet) {
		if s == nil {
			word(0)
			return
		}
		word(uint64(len(s.recs)))
		for _, rec := range s.recs {
			word(uint64(uint32(rec.target))<<16 | uint64(rec.port))
		}
	}
	if r.Exists {
		word(1)
	}
	str(string(r.V4))
	str(string(r.V6))
	srv(r.SRV)
	for _, p := range r.Ports {
		str(p.Name)
		srv(p.Set)
	}
	for _, n := range r.Names {
		str(n.Host)
		str(n.Cluster)
		v4, v6 := r.NameAddrs(n)
		str(string(v4))
		str(string(v6))
	}
	for _, e := range r.ents {
		str(e)
	}
	return h.Sum64()
}
