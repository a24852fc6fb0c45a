package watch

import (
	"slices"

	discovery "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
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
	return restClientFor(cfg, discovery.SchemeGroupVersion, runtime.ContentTypeProtobuf,
		runtime.ContentTypeProtobuf+","+runtime.ContentTypeJSON,
		sparseSliceSerializer{scheme.Codecs.WithoutConversion(), stored})
}

// sparseSliceSerializer is client-go's serializer with the protobuf decoders replaced:
// objects by sliceDecoder, watch events by watchEnvelope.
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
		infos[i] = envelopedStream(infos[i], readProtobufEvent)
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

// readProtobufEvent finds the type and the object of a protobuf WatchEvent
// {type 1, object 2 {raw 1}}.
func readProtobufEvent(frame []byte) (typ, object []byte, ok bool, err error) {
	if typ, _, _, err = lastField(frame, 1, wireLen); err != nil {
		return nil, nil, false, err
	}
	envelope, _, _, err := lastField(frame, 2, wireLen)
	if err != nil {
		return nil, nil, false, err
	}
	if object, _, _, err = lastField(envelope, 1, wireLen); err != nil {
		return nil, nil, false, err
	}
	return typ, object, true, nil
}
