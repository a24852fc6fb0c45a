package watch

import (
	"bytes"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/mcs-dns/multicluster/internal/object"
)

// EndpointSlices arrive over the watch as protobuf (k8s.io/api/discovery/v1
// generated.proto). client-go decodes each into a complete EndpointSlice (managed
// fields, target references, topology, hints …) that the store's transform trims to a
// few fields at once: at a million endpoints a relist allocated 370 MB doing that, and
// the garbage collector let the heap grow to 1.6x its steady size meanwhile. The
// decoder here reads the wire format itself and fills in only what object.SliceFromDiscovery
// reads, with the endpoint list sized once, so the object it hands to the transform
// is a fraction of the size and unchanged objects cost little more than their bytes.
//
// Field numbers: EndpointSlice {metadata 1, endpoints 2, ports 3, addressType 4};
// Endpoint {addresses 1, conditions 2, hostname 3}; EndpointConditions {ready 1};
// EndpointPort {name 1, protocol 2, port 3}; ObjectMeta {name 1, namespace 3,
// resourceVersion 6, labels 11, annotations 12}; map entries {key 1, value 2}.

// Protobuf wire types (https://protobuf.dev/programming-guides/encoding/).
const (
	wireVarint = 0
	wireI64    = 1
	wireLen    = 2
	wireI32    = 5
)

var errTruncated = errors.New("truncated protobuf")

// wireReader walks the fields of one protobuf message.
type wireReader struct {
	b   []byte
	err error
}

func (r *wireReader) varint() uint64 {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if len(r.b) == 0 {
			r.err = errTruncated
			return 0
		}
		c := r.b[0]
		r.b = r.b[1:]
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
	}
	r.err = errors.New("protobuf varint overflows 64 bits")
	return 0
}

// next returns the next field's number and wire type, and for length-delimited fields
// its bytes (aliasing the message); ok is false at the end or on an error.
func (r *wireReader) next() (num int, typ int, val []byte, scalar uint64, ok bool) {
	if r.err != nil || len(r.b) == 0 {
		return 0, 0, nil, 0, false
	}
	key := r.varint()
	num, typ = int(key>>3), int(key&7)
	if num == 0 {
		r.err = errors.New("protobuf field number 0")
	}
	switch typ {
	case wireVarint:
		scalar = r.varint()
	case wireI64:
		if len(r.b) < 8 {
			r.err = errTruncated
		} else {
			r.b = r.b[8:]
		}
	case wireI32:
		if len(r.b) < 4 {
			r.err = errTruncated
		} else {
			r.b = r.b[4:]
		}
	case wireLen:
		n := r.varint()
		if r.err == nil && n > uint64(len(r.b)) {
			r.err = errTruncated
		}
		if r.err == nil {
			val, r.b = r.b[:n], r.b[n:]
		}
	default:
		// Groups (3, 4) are not used by Kubernetes types.
		r.err = fmt.Errorf("protobuf wire type %d not supported", typ)
	}
	return num, typ, val, scalar, r.err == nil
}

// lastField returns the last field num of wire type typ in message b: its bytes
// (length-delimited) or its value (varint). Kubernetes writes each such field once.
func lastField(b []byte, num, typ int) (val []byte, scalar uint64, found bool, err error) {
	r := wireReader{b: b}
	for n, t, v, x, ok := r.next(); ok; n, t, v, x, ok = r.next() {
		if n == num && t == typ {
			val, scalar, found = v, x, true
		}
	}
	return val, scalar, found, r.err
}

// Kept endpoint condition values: object.SliceFromDiscovery only reads them, so every
// endpoint can share these.
var (
	conditionTrue  = true
	conditionFalse = false
)

// initialEventsEnd is the annotation of the bookmark that ends a streamed list
// (KEP-3157); the reflector reads it.
const initialEventsEnd = metav1.InitialEventsAnnotationKey

// storedVersion returns the trimmed object stored for namespace/name if it has
// resource version rv, else nil.
type storedVersion func(namespace, name, rv string) runtime.Object

// decodeSparseSlice decodes an EndpointSlice message into an EndpointSlice holding
// only what object.SliceFromDiscovery and the reflector read. When stored holds this version
// already (a relist sends every unchanged slice again), only the identity is decoded
// and the stored copy is returned instead. Strings are copied: b is the watch
// stream's buffer, reused for the next event.
func decodeSparseSlice(b []byte, stored storedVersion) (runtime.Object, error) {
	n := 0
	var meta []byte
	count := wireReader{b: b}
	for num, typ, val, _, ok := count.next(); ok; num, typ, val, _, ok = count.next() {
		switch {
		case num == 2 && typ == wireLen:
			n++
		case num == 1 && typ == wireLen:
			meta = val
		}
	}
	if count.err != nil {
		return nil, count.err
	}
	if stored != nil && meta != nil {
		id, err := metaIdentity(meta)
		if err != nil {
			return nil, err
		}
		if old := stored(id.Namespace, id.Name, id.ResourceVersion); old != nil {
			return old, nil
		}
	}
	es := &discovery.EndpointSlice{}
	// One allocation each for the endpoints, their (first) addresses and their
	// hostnames, instead of one per endpoint.
	var backing endpointBacking
	if n > 0 {
		es.Endpoints = make([]discovery.Endpoint, 0, n)
		backing = endpointBacking{addrs: make([]string, 0, n), hosts: make([]string, 0, n)}
	}
	r := wireReader{b: b}
	for num, typ, val, _, ok := r.next(); ok; num, typ, val, _, ok = r.next() {
		if typ != wireLen {
			continue
		}
		var err error
		switch num {
		case 1:
			err = decodeSparseMeta(val, &es.ObjectMeta)
		case 2:
			var e discovery.Endpoint
			if e, err = backing.decode(val); err == nil {
				es.Endpoints = append(es.Endpoints, e)
			}
		case 3:
			var p discovery.EndpointPort
			if p, err = decodeSparsePort(val); err == nil {
				es.Ports = append(es.Ports, p)
			}
		case 4:
			es.AddressType = discovery.AddressType(val)
		}
		if err != nil {
			return nil, err
		}
	}
	return es, r.err
}

// metaIdentity reads name, namespace and resource version (the last occurrence of
// each, as a merge of repeated metadata fields would give).
func metaIdentity(b []byte) (metav1.ObjectMeta, error) {
	var m metav1.ObjectMeta
	return m, decodeMeta(b, &m, false)
}

func decodeSparseMeta(b []byte, m *metav1.ObjectMeta) error { return decodeMeta(b, m, true) }

// decodeMeta reads the identity and, with labels, the labels object.SliceFromDiscovery reads
// and the annotation the reflector reads.
func decodeMeta(b []byte, m *metav1.ObjectMeta, labels bool) error {
	r := wireReader{b: b}
	for num, typ, val, _, ok := r.next(); ok; num, typ, val, _, ok = r.next() {
		if typ != wireLen {
			continue
		}
		switch num {
		case 1:
			m.Name = string(val)
		case 3:
			m.Namespace = string(val)
		case 6:
			m.ResourceVersion = string(val)
		case 11, 12:
			if !labels {
				continue
			}
			k, v, err := mapEntry(val)
			if err != nil {
				return err
			}
			if num == 12 {
				if string(k) == initialEventsEnd {
					m.Annotations = map[string]string{initialEventsEnd: string(v)}
				}
				continue
			}
			// Only the labels object.SliceFromDiscovery reads.
			switch string(k) {
			case object.LabelServiceName, object.LabelSourceCluster, object.LabelActive:
				if m.Labels == nil {
					m.Labels = make(map[string]string, 3)
				}
				m.Labels[string(k)] = string(v)
			}
		}
	}
	return r.err
}

// mapEntry returns the key and value of a map<string, string> entry.
func mapEntry(b []byte) (k, v []byte, err error) {
	if k, _, _, err = lastField(b, 1, wireLen); err != nil {
		return nil, nil, err
	}
	v, _, _, err = lastField(b, 2, wireLen)
	return k, v, err
}

// endpointBacking holds the strings of a slice's endpoints: its arrays back every
// endpoint's first address and hostname pointer. Only the transform reads them, and it
// keeps neither the arrays nor the pointers.
type endpointBacking struct {
	addrs, hosts []string
}

func (eb *endpointBacking) decode(b []byte) (discovery.Endpoint, error) {
	var e discovery.Endpoint
	r := wireReader{b: b}
	for num, typ, val, _, ok := r.next(); ok; num, typ, val, _, ok = r.next() {
		if typ != wireLen {
			continue
		}
		switch num {
		case 1:
			if e.Addresses == nil && len(eb.addrs) < cap(eb.addrs) {
				// Nearly every endpoint has one address; a second one (dual-stack
				// pods still get a slice per family) appends into a copy.
				eb.addrs = append(eb.addrs, string(val))
				e.Addresses = eb.addrs[len(eb.addrs)-1 : len(eb.addrs) : len(eb.addrs)]
			} else {
				e.Addresses = append(e.Addresses, string(val))
			}
		case 2:
			_, ready, found, err := lastField(val, 1, wireVarint)
			if err != nil {
				return e, err
			}
			if found {
				e.Conditions.Ready = &conditionFalse
				if ready != 0 {
					e.Conditions.Ready = &conditionTrue
				}
			}
		case 3:
			if len(eb.hosts) < cap(eb.hosts) {
				eb.hosts = append(eb.hosts, string(val))
				e.Hostname = &eb.hosts[len(eb.hosts)-1]
			} else {
				h := string(val)
				e.Hostname = &h
			}
		}
	}
	return e, r.err
}

func decodeSparsePort(b []byte) (discovery.EndpointPort, error) {
	var p discovery.EndpointPort
	r := wireReader{b: b}
	for num, typ, val, v, ok := r.next(); ok; num, typ, val, v, ok = r.next() {
		switch {
		case num == 1 && typ == wireLen:
			name := string(val)
			p.Name = &name
		case num == 2 && typ == wireLen:
			proto := corev1.Protocol(val)
			p.Protocol = &proto
		case num == 3 && typ == wireVarint:
			port := int32(v)
			p.Port = &port
		}
	}
	return p, r.err
}

// protobufMagic starts every Kubernetes protobuf object: the bytes "k8s" and a zero,
// then a runtime.Unknown {typeMeta 1 {apiVersion 1, kind 2}, raw 2}.
var protobufMagic = []byte{0x6b, 0x38, 0x73, 0x00}

// unwrapUnknown returns the kind and the raw message of an enveloped object; ok is
// false when data is not one.
func unwrapUnknown(data []byte) (kind string, raw []byte, ok bool) {
	if !bytes.HasPrefix(data, protobufMagic) {
		return "", nil, false
	}
	data = data[len(protobufMagic):]
	typeMeta, _, _, err := lastField(data, 1, wireLen)
	if err != nil {
		return "", nil, false
	}
	k, _, _, err := lastField(typeMeta, 2, wireLen)
	if err != nil {
		return "", nil, false
	}
	raw, _, _, err = lastField(data, 2, wireLen)
	return string(k), raw, err == nil
}
