package watch

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"
	mcsscheme "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned/scheme"
)

// ServiceImports are custom resources: the API server sends them as JSON only. A relist
// sends every unchanged import again; decoding each into a typed object only for the
// transform to find the stored copy is most of a relist's garbage at 100,000 imports.
// So, once the store holds imports, the watch first reads an object's identity and,
// when the store holds that version, hands the stored copy on.

// newImportWatchClient returns a REST client for ServiceImports of version (v1beta1
// or v1alpha1) that decodes only the identity of the versions stored holds; empty
// says whether the store holds none (the initial list: no identity pass).
func newImportWatchClient(cfg *rest.Config, version string, stored storedVersion, empty func() bool) (rest.Interface, error) {
	return restClientFor(cfg, schema.GroupVersion{Group: mcsGroup, Version: version}, runtime.ContentTypeJSON,
		runtime.ContentTypeJSON, knownImportSerializer{mcsscheme.Codecs.WithoutConversion(), importDecoderFor(version, stored, empty)})
}

// knownImportSerializer is the MCS clientset's serializer with the JSON object decoder
// wrapped by importDecoder and watch events read by readJSONEvent.
type knownImportSerializer struct {
	runtime.NegotiatedSerializer
	decoder importDecoder
}

func (s knownImportSerializer) SupportedMediaTypes() []runtime.SerializerInfo {
	infos := slices.Clone(s.NegotiatedSerializer.SupportedMediaTypes())
	for i, info := range infos {
		if info.MediaType != runtime.ContentTypeJSON {
			continue
		}
		d := s.decoder
		d.Serializer = info.Serializer
		infos[i].Serializer = d
		infos[i] = envelopedStream(infos[i], readJSONEvent)
	}
	return infos
}

func (s knownImportSerializer) DecoderToVersion(d runtime.Decoder, gv runtime.GroupVersioner) runtime.Decoder {
	if id, ok := d.(importDecoder); ok {
		id.Decoder = s.NegotiatedSerializer.DecoderToVersion(id.Serializer, gv)
		return id
	}
	return s.NegotiatedSerializer.DecoderToVersion(d, gv)
}

// importDecoder hands on the stored copy of a ServiceImport the store holds, and
// decodes everything else with the MCS clientset's decoder.
type importDecoder struct {
	runtime.Serializer                 // the JSON serializer
	Decoder            runtime.Decoder // it, as the negotiator wraps it
	stored             storedVersion
	empty              func() bool
	gvk                schema.GroupVersionKind
}

func importDecoderFor(version string, stored storedVersion, empty func() bool) importDecoder {
	d := importDecoder{stored: stored, empty: empty, gvk: mcsv1beta1.SchemeGroupVersion.WithKind("ServiceImport")}
	if version == "v1alpha1" {
		d.gvk = mcsv1alpha1.SchemeGroupVersion.WithKind("ServiceImport")
	}
	return d
}

func (d importDecoder) Decode(data []byte, defaults *schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	dec := d.Decoder
	if dec == nil {
		dec = d.Serializer
	}
	if d.stored == nil || (d.empty != nil && d.empty()) {
		return dec.Decode(data, defaults, into)
	}
	id, ok := jsonIdentity(data, d.gvk.Kind)
	if !ok {
		return dec.Decode(data, defaults, into)
	}
	old := d.stored(id.Namespace, id.Name, id.ResourceVersion)
	if old == nil {
		return dec.Decode(data, defaults, into)
	}
	gvk := d.gvk
	return old, &gvk, nil
}

// jsonIdentity reads the name, namespace and resource version of a JSON object of
// kind, without decoding the rest; ok is false for anything else, or when a key or
// one of them is escaped (then the object is decoded whole).
func jsonIdentity(data []byte, kind string) (id metav1.ObjectMeta, ok bool) {
	kindOK, plain := false, true
	var meta []byte
	if !jsonMembers(data, func(key []byte, plainKey bool, value []byte) bool {
		plain = plain && plainKey
		switch string(key) {
		case "kind":
			k, p := jsonString(value)
			kindOK = p && string(k) == kind
		case "metadata":
			meta = value
		}
		return true
	}) || !plain || !kindOK || meta == nil {
		return id, false
	}
	if !jsonMembers(meta, func(key []byte, plainKey bool, value []byte) bool {
		plain = plain && plainKey
		var field *string
		switch string(key) {
		case "name":
			field = &id.Name
		case "namespace":
			field = &id.Namespace
		case "resourceVersion":
			field = &id.ResourceVersion
		default:
			return true
		}
		s, p := jsonString(value)
		plain = plain && p
		*field = string(s)
		return true
	}) || !plain {
		return metav1.ObjectMeta{}, false
	}
	return id, true
}

// readJSONEvent finds the type and the object of a JSON WatchEvent
// {"type": ..., "object": {...}}; it does not validate the object, which importDecoder
// (or client-go's decoder) reads next. An escaped type or no object: not found.
func readJSONEvent(frame []byte) (typ, object []byte, ok bool, err error) {
	typOK := false
	if !jsonMembers(frame, func(key []byte, _ bool, value []byte) bool {
		switch string(key) {
		case "type":
			typ, typOK = jsonString(value)
		case "object":
			object = value
		}
		return true
	}) || !typOK || len(object) == 0 || object[0] != '{' {
		return nil, nil, false, nil
	}
	return typ, object, true, nil
}
