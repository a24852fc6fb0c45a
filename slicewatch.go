package multicluster

import (
	"slices"

	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

// The EndpointSlice watch goes through a REST client of its own whose protobuf decoding
// is the sparse one of slicedecode.go; everything else (retries, warnings, errors,
// JSON) is client-go's. Lists (the fallback when the API server cannot stream a list)
// still use the typed client.

var sliceGVK = discovery.SchemeGroupVersion.WithKind("EndpointSlice")

// newSliceWatchClient returns a discovery/v1 REST client for cfg that decodes
// EndpointSlices sparsely, and hands on the stored copy of those stored holds.
func newSliceWatchClient(cfg *rest.Config, stored storedVersion) (rest.Interface, error) {
	c := rest.CopyConfig(cfg)
	gv := discovery.SchemeGroupVersion
	c.GroupVersion = &gv
	c.APIPath = "/apis"
	c.ContentType = runtime.ContentTypeProtobuf
	c.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	c.NegotiatedSerializer = sparseSliceSerializer{scheme.Codecs.WithoutConversion(), stored}
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	return rest.RESTClientFor(c)
}

// sparseSliceSerializer is client-go's serializer with the protobuf decoders replaced:
// objects by sliceDecoder, watch events by watchEventDecoder.
type sparseSliceSerializer struct {
	runtime.NegotiatedSerializer
	stored storedVersion
}

func (s sparseSliceSerializer) SupportedMediaTypes() []runtime.SerializerInfo {
	infos := slices.Clone(s.NegotiatedSerializer.SupportedMediaTypes())
	for i, info := range infos {
		if info.MediaType != runtime.ContentTypeProtobuf || info.StreamSerializer == nil {
			continue
		}
		infos[i].Serializer = sliceDecoder{info.Serializer, s.stored}
		stream := *info.StreamSerializer
		stream.Serializer = watchEventDecoder{stream.Serializer}
		infos[i].StreamSerializer = &stream
	}
	return infos
}

func (s sparseSliceSerializer) DecoderToVersion(d runtime.Decoder, gv runtime.GroupVersioner) runtime.Decoder {
	if sd, ok := d.(sliceDecoder); ok {
		return sd // no conversion: the sparse object has no type meta to clear
	}
	return s.NegotiatedSerializer.DecoderToVersion(d, gv)
}

// sliceDecoder decodes protobuf EndpointSlices sparsely and anything else (a Status in
// an ERROR event) with client-go's decoder.
type sliceDecoder struct {
	runtime.Serializer
	stored storedVersion
}

func (d sliceDecoder) Decode(data []byte, defaults *schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	kind, raw, ok := unwrapUnknown(data)
	if !ok || kind != sliceGVK.Kind {
		return d.Serializer.Decode(data, defaults, into)
	}
	obj, err := decodeSparseSlice(raw, d.stored)
	if err != nil {
		return nil, nil, err
	}
	gvk := sliceGVK
	return obj, &gvk, nil
}

// watchEventDecoder decodes a protobuf WatchEvent {type 1, object 2 {raw 1}} without
// copying the object: its Raw aliases the stream's frame buffer, which client-go's
// watch decoder decodes (with sliceDecoder) before it reads the next frame.
type watchEventDecoder struct {
	runtime.Serializer
}

func (d watchEventDecoder) Decode(data []byte, defaults *schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	ev, ok := into.(*metav1.WatchEvent)
	if !ok {
		return d.Serializer.Decode(data, defaults, into)
	}
	*ev = metav1.WatchEvent{}
	typ, _, _, err := lastField(data, 1, wireLen)
	if err != nil {
		return nil, nil, err
	}
	ev.Type = eventType(typ)
	object, _, _, err := lastField(data, 2, wireLen)
	if err != nil {
		return nil, nil, err
	}
	if ev.Object.Raw, _, _, err = lastField(object, 1, wireLen); err != nil {
		return nil, nil, err
	}
	gvk := metav1.SchemeGroupVersion.WithKind("WatchEvent")
	return ev, &gvk, nil
}

// eventType returns the watch event type without allocating for the known ones.
func eventType(b []byte) string {
	for _, t := range []watch.EventType{watch.Added, watch.Modified, watch.Deleted, watch.Bookmark, watch.Error} {
		if string(b) == string(t) {
			return string(t)
		}
	}
	return string(b)
}
