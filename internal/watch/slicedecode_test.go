package watch

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/mcs-dns/multicluster/internal/object"
)

func ptrTo[T any](v T) *T { return &v }

// wireSlices are EndpointSlices with every field the API server may send, including
// those the sparse decoder skips.
func wireSlices() []*discovery.EndpointSlice {
	full := &discovery.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web-east-x7k2p", GenerateName: "web-east-", Namespace: "prod", UID: "5c0b9f6e-1d2a-4e8b-9a43-2f0a1b7c9d10",
			ResourceVersion: "918273", Generation: 4,
			CreationTimestamp: metav1.NewTime(time.Unix(1700000000, 0)),
			Labels: map[string]string{
				object.LabelServiceName: "web", object.LabelSourceCluster: "East", discovery.LabelManagedBy: "mcs-controller",
				"app": "web",
			},
			Annotations:     map[string]string{"note": "x", "endpoints.kubernetes.io/last-change-trigger-time": "2024-01-01T00:00:00Z"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: "web", UID: "u1", Controller: ptrTo(true)}},
			Finalizers:      []string{"f"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "controller", Operation: metav1.ManagedFieldsOperationUpdate,
				APIVersion: "discovery.k8s.io/v1", FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:endpoints":{}}`)}}},
		},
		AddressType: discovery.AddressTypeIPv4,
		Endpoints: []discovery.Endpoint{
			{Addresses: []string{"10.1.0.1"}, Conditions: discovery.EndpointConditions{Ready: ptrTo(true), Serving: ptrTo(true), Terminating: ptrTo(false)},
				Hostname: ptrTo("Web-0"), NodeName: ptrTo("node-1"), Zone: ptrTo("us-east-1a"),
				TargetRef:          &corev1.ObjectReference{Kind: "Pod", Namespace: "prod", Name: "web-0", UID: "p0"},
				DeprecatedTopology: map[string]string{"kubernetes.io/hostname": "node-1"},
				Hints:              &discovery.EndpointHints{ForZones: []discovery.ForZone{{Name: "us-east-1a"}}, ForNodes: []discovery.ForNode{{Name: "node-1"}}}},
			{Addresses: []string{"10.1.0.2"}, Conditions: discovery.EndpointConditions{Ready: ptrTo(false), Serving: ptrTo(true), Terminating: ptrTo(true)}},
			{Addresses: []string{"10.1.0.3", "10.1.0.4"}},
			{Addresses: []string{"not-an-ip"}, Hostname: ptrTo("bad_host")},
			{Addresses: []string{"fd00::1"}, Hostname: ptrTo("")},
			{},
		},
		Ports: []discovery.EndpointPort{
			{Name: ptrTo("http"), Protocol: ptrTo(corev1.ProtocolTCP), Port: ptrTo(int32(8080)), AppProtocol: ptrTo("http")},
			{Name: ptrTo("dns"), Protocol: ptrTo(corev1.ProtocolUDP), Port: ptrTo(int32(53))},
			{Name: ptrTo("weird"), Protocol: ptrTo(corev1.Protocol("QUIC")), Port: ptrTo(int32(443))},
			{Port: ptrTo(int32(-1))},
			{},
		},
	}
	v6 := &discovery.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "db-west", Namespace: "data", ResourceVersion: "5", Labels: map[string]string{object.LabelServiceName: "db", object.LabelSourceCluster: "west"}},
		AddressType: discovery.AddressTypeIPv6,
		Endpoints:   []discovery.Endpoint{{Addresses: []string{"fd00:1::5"}, Hostname: ptrTo("db-0")}, {Addresses: []string{"::ffff:10.0.0.1"}}},
	}
	inactive := &discovery.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "off", Namespace: "ns", ResourceVersion: "6", Labels: map[string]string{object.LabelServiceName: "svc", object.LabelSourceCluster: "c1", object.LabelActive: "false"}},
		AddressType: discovery.AddressTypeIPv4,
		Endpoints:   []discovery.Endpoint{{Addresses: []string{"10.0.0.9"}}},
	}
	fqdn := &discovery.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "ext", Namespace: "ns", ResourceVersion: "7", Labels: map[string]string{object.LabelServiceName: "ext"}},
		AddressType: discovery.AddressTypeFQDN,
		Endpoints:   []discovery.Endpoint{{Addresses: []string{"example.com"}}},
	}
	empty := &discovery.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "empty", Namespace: "ns", ResourceVersion: "8"}}
	return []*discovery.EndpointSlice{full, v6, inactive, fqdn, empty}
}

// encodeSlice encodes es as the API server does: the protobuf envelope with type meta.
func encodeSlice(t testing.TB, es *discovery.EndpointSlice) []byte {
	t.Helper()
	enc := scheme.Codecs.EncoderForVersion(protobuf.NewSerializer(scheme.Scheme, scheme.Scheme), discovery.SchemeGroupVersion)
	var buf bytes.Buffer
	if err := enc.Encode(es.DeepCopy(), &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func stockDecode(t testing.TB, data []byte) *discovery.EndpointSlice {
	t.Helper()
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(data, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*discovery.EndpointSlice)
}

// The sparse decoder must give the informer transform exactly what client-go's
// complete decoding gives it.
func TestSparseSliceDecodingTrimsAlike(t *testing.T) {
	for _, es := range wireSlices() {
		t.Run(es.Name, func(t *testing.T) {
			data := encodeSlice(t, es)
			obj, gvk, err := sliceDecoder{}.Decode(data, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if *gvk != sliceGVK {
				t.Errorf("gvk %v", gvk)
			}
			sparse := obj.(*discovery.EndpointSlice)
			want, got := object.SliceFromDiscovery(stockDecode(t, data)), object.SliceFromDiscovery(sparse)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("trimmed differently:\n got  %+v\n want %+v", got, want)
			}
			if sparse.ResourceVersion != es.ResourceVersion || sparse.Name != es.Name || sparse.Namespace != es.Namespace {
				t.Errorf("meta %s/%s@%s", sparse.Namespace, sparse.Name, sparse.ResourceVersion)
			}
		})
	}
}

// A watch over HTTP with the protobuf stream the API server writes: slices arrive
// sparse, the bookmark that ends a streamed list keeps its annotation, an ERROR
// event's Status is decoded by client-go's decoder.
func TestSparseSliceWatch(t *testing.T) {
	slice := wireSlices()[0]
	bookmark := &discovery.EndpointSlice{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "918300",
		Annotations: map[string]string{initialEventsEnd: "true"}}}
	status := &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusGone, Reason: metav1.StatusReasonExpired, Message: "too old"}
	statusEnc := scheme.Codecs.EncoderForVersion(protobuf.NewSerializer(scheme.Scheme, scheme.Scheme), metav1.SchemeGroupVersion)
	var statusBuf bytes.Buffer
	if err := statusEnc.Encode(status, &statusBuf); err != nil {
		t.Fatal(err)
	}
	events := []metav1.WatchEvent{
		{Type: string(watch.Added), Object: runtime.RawExtension{Raw: encodeSlice(t, slice)}},
		{Type: string(watch.Bookmark), Object: runtime.RawExtension{Raw: encodeSlice(t, bookmark)}},
		{Type: string(watch.Modified), Object: runtime.RawExtension{Raw: encodeSlice(t, wireSlices()[1])}},
		{Type: string(watch.Error), Object: runtime.RawExtension{Raw: statusBuf.Bytes()}},
	}
	var gotQuery string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotQuery = r.URL.Path + "?" + r.URL.RawQuery
		w.Header().Set("Content-Type", "application/vnd.kubernetes.protobuf;stream=watch")
		for _, ev := range events {
			data, err := ev.Marshal()
			if err != nil {
				t.Error(err)
				return
			}
			var n [4]byte
			binary.BigEndian.PutUint32(n[:], uint32(len(data)))
			_, _ = w.Write(n[:])
			_, _ = w.Write(data)
		}
	}))
	defer srv.Close()

	client, err := newSliceWatchClient(&rest.Config{Host: srv.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := watchResource(context.Background(), client, scheme.ParameterCodec, resourceSlices, metav1.ListOptions{LabelSelector: object.LabelServiceName, AllowWatchBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var got []watch.Event
	for ev := range w.ResultChan() {
		got = append(got, ev)
	}
	if want := "/apis/discovery.k8s.io/v1/endpointslices?allowWatchBookmarks=true&labelSelector=" + "multicluster.kubernetes.io%2Fservice-name" + "&watch=true"; gotQuery != want {
		t.Errorf("request %s, want %s", gotQuery, want)
	}
	if len(got) != len(events) {
		t.Fatalf("%d events, want %d: %+v", len(got), len(events), got)
	}
	if es, ok := got[0].Object.(*discovery.EndpointSlice); !ok || got[0].Type != watch.Added ||
		!reflect.DeepEqual(object.SliceFromDiscovery(es), object.SliceFromDiscovery(stockDecode(t, encodeSlice(t, slice)))) {
		t.Errorf("event 0: %s %#v", got[0].Type, got[0].Object)
	}
	if bm, ok := got[1].Object.(*discovery.EndpointSlice); !ok || got[1].Type != watch.Bookmark ||
		bm.ResourceVersion != "918300" || bm.Annotations[initialEventsEnd] != "true" {
		t.Errorf("bookmark: %s %#v", got[1].Type, got[1].Object)
	}
	if es, ok := got[2].Object.(*discovery.EndpointSlice); !ok || es.Name != "db-west" || len(es.Endpoints) != 2 {
		t.Errorf("event 2: %#v", got[2].Object)
	}
	if st, ok := got[3].Object.(*metav1.Status); !ok || got[3].Type != watch.Error || st.Code != http.StatusGone || st.Reason != metav1.StatusReasonExpired {
		t.Errorf("error event: %s %#v", got[3].Type, got[3].Object)
	}
}

// On any input the sparse decoder returns an error or, where client-go's generated
// decoder accepts the same bytes, an object that trims exactly alike; it never panics.
func FuzzSparseSliceDecoding(f *testing.F) {
	for _, es := range wireSlices() {
		data := encodeSlice(f, es)
		_, raw, _ := unwrapUnknown(data)
		f.Add(raw)
	}
	f.Add([]byte{0x12, 0xff})                   // truncated length
	f.Add([]byte{0x0a, 0x02, 0x5a, 0x05})       // metadata with a truncated label entry
	f.Add([]byte{0x13, 0x00})                   // a group
	f.Add([]byte{0x12, 0x03, 0x12, 0x01, 0x08}) // conditions without a value
	f.Fuzz(func(t *testing.T, raw []byte) {
		sparse, err := decodeSparseSlice(raw, nil)
		var stock discovery.EndpointSlice
		stockErr := stock.Unmarshal(raw)
		if err != nil || stockErr != nil {
			return
		}
		if got, want := object.SliceFromDiscovery(sparse.(*discovery.EndpointSlice)), object.SliceFromDiscovery(&stock); !reflect.DeepEqual(got, want) {
			t.Errorf("trimmed differently:\n got  %+v\n want %+v", got, want)
		}
	})
}

// BenchmarkDecodeSlice compares what decoding one 50-endpoint EndpointSlice from the
// watch allocates: client-go's complete decoding, the sparse one, and the sparse one
// of a version the store holds.
func BenchmarkDecodeSlice(b *testing.B) {
	es := &discovery.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "big-00001-cluster7", Namespace: "big-01", ResourceVersion: "123456",
			Labels: map[string]string{object.LabelServiceName: "big-00001", object.LabelSourceCluster: "cluster7", discovery.LabelManagedBy: "mcs"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "bench", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "discovery.k8s.io/v1",
				FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: bytes.Repeat([]byte(`{"f:x":{}}`), 50)}}}},
		AddressType: discovery.AddressTypeIPv4,
		Ports:       []discovery.EndpointPort{{Name: ptrTo("http"), Protocol: ptrTo(corev1.ProtocolTCP), Port: ptrTo(int32(8080))}},
	}
	for i := range 50 {
		es.Endpoints = append(es.Endpoints, discovery.Endpoint{Addresses: []string{"10.0.0." + string(rune('0'+i%10))},
			Conditions: discovery.EndpointConditions{Ready: ptrTo(true)}, Hostname: ptrTo("web-1")})
	}
	data := encodeSlice(b, es)
	b.Run("client-go", func(b *testing.B) {
		d := scheme.Codecs.UniversalDeserializer()
		b.ReportAllocs()
		for b.Loop() {
			obj, _, err := d.Decode(data, nil, nil)
			if err != nil || obj == nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sparse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			obj, _, err := sliceDecoder{}.Decode(data, nil, nil)
			if err != nil || obj == nil {
				b.Fatal(err)
			}
		}
	})
	// A relist of an unchanged slice: only the identity, then the stored copy.
	b.Run("sparse, version held", func(b *testing.B) {
		held := &object.EndpointSlice{}
		stored := func(string, string, string) runtime.Object { return held }
		b.ReportAllocs()
		for b.Loop() {
			obj, _, err := sliceDecoder{stored: stored}.Decode(data, nil, nil)
			if err != nil || obj == nil {
				b.Fatal(err)
			}
		}
	})
}

// A relist sends every unchanged slice again: the decoder then reads only its
// identity and hands on the stored copy; a new version is decoded whole.
func TestStoredSlicesAreHandedOn(t *testing.T) {
	es := wireSlices()[0]
	data := encodeSlice(t, es)
	store := newObjectStore(object.TransformSlice, func(any, any, bool) {}, sliceService)
	dec := sliceDecoder{stored: storedIn(store)}

	// Initial list: nothing stored, decoded whole.
	obj, _, err := dec.Decode(data, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	first, ok := obj.(*discovery.EndpointSlice)
	if !ok || len(first.Endpoints) != len(es.Endpoints) {
		t.Fatalf("first decode: %#v", obj)
	}
	if err := store.Add(first); err != nil {
		t.Fatal(err)
	}
	stored, _ := store.get(es.Namespace, es.Name)

	// Relist: the same version again.
	if again, _, err := dec.Decode(data, nil, nil); err != nil || again != stored {
		t.Fatalf("relisted stored version: got %#v, %v; want the stored copy", again, err)
	}

	// A new version is decoded whole.
	changed := es.DeepCopy()
	changed.ResourceVersion = "918274"
	obj, _, _ = dec.Decode(encodeSlice(t, changed), nil, nil)
	if got, ok := obj.(*discovery.EndpointSlice); !ok || got.ResourceVersion != "918274" || len(got.Endpoints) != len(es.Endpoints) {
		t.Errorf("a new version: got %#v", obj)
	}
}
