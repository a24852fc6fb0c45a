package multicluster

import (
	"encoding/json"

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
// So, once the informer holds imports, the watch first reads an object's metadata and,
// when the informer holds that version, hands on an object with metadata only, which
// reusing (relist.go) replaces with the stored copy.

// newImportWatchClient returns a REST client for ServiceImports of version (v1beta1
// or v1alpha1) that decodes only the metadata of the versions known holds; empty says
// whether the informer holds none (the initial list: no metadata pass).
func newImportWatchClient(cfg *rest.Config, version string, known knownVersion, empty func() bool) (rest.Interface, error) {
	c := rest.CopyConfig(cfg)
	gv := schema.GroupVersion{Group: mcsGroup, Version: version}
	c.GroupVersion = &gv
	c.APIPath = "/apis"
	c.ContentType = runtime.ContentTypeJSON
	c.AcceptContentTypes = runtime.ContentTypeJSON
	c.NegotiatedSerializer = knownImportSerializer{mcsscheme.Codecs.WithoutConversion(), importDecoderFor(version, known, empty)}
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	return rest.RESTClientFor(c)
}

// knownImportSerializer is the MCS clientset's serializer with the JSON object decoder
// wrapped by importDecoder.
type knownImportSerializer struct {
	runtime.NegotiatedSerializer
	decoder importDecoder
}

func (s knownImportSerializer) SupportedMediaTypes() []runtime.SerializerInfo {
	infos := s.NegotiatedSerializer.SupportedMediaTypes()
	out := make([]runtime.SerializerInfo, len(infos))
	for i, info := range infos {
		out[i] = info
		if info.MediaType == runtime.ContentTypeJSON {
			d := s.decoder
			d.Serializer = info.Serializer
			out[i].Serializer = d
		}
	}
	return out
}

func (s knownImportSerializer) DecoderToVersion(d runtime.Decoder, gv runtime.GroupVersioner) runtime.Decoder {
	if id, ok := d.(importDecoder); ok {
		id.Decoder = s.NegotiatedSerializer.DecoderToVersion(id.Serializer, gv)
		return id
	}
	return s.NegotiatedSerializer.DecoderToVersion(d, gv)
}

// importDecoder decodes a ServiceImport the informer holds as metadata only, and
// everything else with the MCS clientset's decoder.
type importDecoder struct {
	runtime.Serializer                 // the JSON serializer
	Decoder            runtime.Decoder // it, as the negotiator wraps it
	known              knownVersion
	empty              func() bool
	metadataOnly       func(meta metav1.ObjectMeta) runtime.Object
	gvk                schema.GroupVersionKind
}

func importDecoderFor(version string, known knownVersion, empty func() bool) importDecoder {
	d := importDecoder{known: known, empty: empty}
	switch version {
	case "v1alpha1":
		d.gvk = mcsv1alpha1.SchemeGroupVersion.WithKind("ServiceImport")
		d.metadataOnly = func(m metav1.ObjectMeta) runtime.Object { return &mcsv1alpha1.ServiceImport{ObjectMeta: m} }
	default:
		d.gvk = mcsv1beta1.SchemeGroupVersion.WithKind("ServiceImport")
		d.metadataOnly = func(m metav1.ObjectMeta) runtime.Object { return &mcsv1beta1.ServiceImport{ObjectMeta: m} }
	}
	return d
}

// importHead is what the metadata pass reads; encoding/json skips the rest without
// allocating.
type importHead struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name            string `json:"name"`
		Namespace       string `json:"namespace"`
		ResourceVersion string `json:"resourceVersion"`
	} `json:"metadata"`
}

func (d importDecoder) Decode(data []byte, defaults *schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	dec := d.Decoder
	if dec == nil {
		dec = d.Serializer
	}
	if d.known == nil || (d.empty != nil && d.empty()) {
		return dec.Decode(data, defaults, into)
	}
	var head importHead
	if err := json.Unmarshal(data, &head); err != nil || head.Kind != d.gvk.Kind ||
		!d.known(head.Metadata.Namespace, head.Metadata.Name, head.Metadata.ResourceVersion) {
		return dec.Decode(data, defaults, into)
	}
	gvk := d.gvk
	return d.metadataOnly(metav1.ObjectMeta{Name: head.Metadata.Name, Namespace: head.Metadata.Namespace,
		ResourceVersion: head.Metadata.ResourceVersion, UID: metadataOnlyUID}), &gvk, nil
}
