package watch

import (
	"bytes"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8sjson "k8s.io/apimachinery/pkg/util/json"
	mcsscheme "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned/scheme"
)

const jsonImport = `{"apiVersion":"multicluster.x-k8s.io/v1beta1","kind":"ServiceImport",` +
	`"metadata":{"name":"web","namespace":"shop","uid":"9a1f","resourceVersion":"41",` +
	`"labels":{"a":"}{\"]["},"annotations":{"x":"\u007b"},"managedFields":[{"fieldsV1":{"f:spec":{}}}]},` +
	`"spec":{"type":"ClusterSetIP","ips":["10.42.0.1"],"ports":[{"port":80,"protocol":"TCP"}]},"status":{}}`

func TestJSONIdentity(t *testing.T) {
	web := metav1.ObjectMeta{Name: "web", Namespace: "shop", ResourceVersion: "41"}
	for _, tc := range []struct {
		what string
		in   string
		want metav1.ObjectMeta
		ok   bool
	}{
		{"as the API server writes it", jsonImport, web, true},
		{"white space everywhere", " {\n \"kind\" : \"ServiceImport\" ,\t\"metadata\" : { \"resourceVersion\" : \"41\" , \"namespace\":\"shop\",\"name\":\"web\" } }\r\n", web, true},
		{"metadata before kind", `{"metadata":{"name":"web","namespace":"shop","resourceVersion":"41"},"kind":"ServiceImport"}`, web, true},
		{"no namespace", `{"kind":"ServiceImport","metadata":{"name":"web","resourceVersion":"41"}}`, metav1.ObjectMeta{Name: "web", ResourceVersion: "41"}, true},
		{"another kind", `{"kind":"Status","metadata":{"name":"web"}}`, metav1.ObjectMeta{}, false},
		{"kind escaped", `{"kind":"Service\u0049mport","metadata":{"name":"web"}}`, metav1.ObjectMeta{}, false},
		{"name escaped", `{"kind":"ServiceImport","metadata":{"name":"w\u0065b","namespace":"shop","resourceVersion":"41"}}`, metav1.ObjectMeta{}, false},
		{"name not ASCII", `{"kind":"ServiceImport","metadata":{"name":"wéb","namespace":"shop","resourceVersion":"41"}}`, metav1.ObjectMeta{}, false},
		{"key escaped", `{"kind":"ServiceImport","metadata":{"n\u0061me":"x","name":"web","resourceVersion":"41"}}`, metav1.ObjectMeta{}, false},
		{"no metadata", `{"kind":"ServiceImport"}`, metav1.ObjectMeta{}, false},
		{"name not a string", `{"kind":"ServiceImport","metadata":{"name":7}}`, metav1.ObjectMeta{}, false},
		{"truncated", jsonImport[:len(jsonImport)-3], metav1.ObjectMeta{}, false},
		{"trailing data", jsonImport + `{}`, metav1.ObjectMeta{}, false},
		{"control character in a string", "{\"kind\":\"ServiceImport\",\"metadata\":{\"name\":\"w\neb\"}}", metav1.ObjectMeta{}, false},
		{"not an object", `["kind","ServiceImport"]`, metav1.ObjectMeta{}, false},
		{"empty", ``, metav1.ObjectMeta{}, false},
	} {
		got, ok := jsonIdentity([]byte(tc.in), "ServiceImport")
		if ok != tc.ok || got.Name != tc.want.Name || got.Namespace != tc.want.Namespace || got.ResourceVersion != tc.want.ResourceVersion {
			t.Errorf("%s: got %+v %v, want %+v %v", tc.what, got, ok, tc.want, tc.ok)
		}
	}
}

// The watch event envelope decodes to what client-go's JSON decoder gives, without
// copying the object; what it cannot read, client-go's decoder reads.
func TestJSONWatchEventDecoder(t *testing.T) {
	var stream runtime.Serializer
	for _, info := range mcsscheme.Codecs.WithoutConversion().SupportedMediaTypes() {
		if info.MediaType == runtime.ContentTypeJSON {
			stream = info.StreamSerializer.Serializer
		}
	}
	ours := watchEnvelope{stream, readJSONEvent}
	status := `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (41)","reason":"Expired","code":410}`
	for _, frame := range []string{
		`{"type":"ADDED","object":` + jsonImport + `}`,
		"{ \"object\" : " + jsonImport + " ,\n \"type\" : \"MODIFIED\" }\n",
		`{"type":"BOOKMARK","object":{"kind":"ServiceImport","apiVersion":"multicluster.x-k8s.io/v1beta1","metadata":{"resourceVersion":"42","annotations":{"k8s.io/initial-events-end":"true"}}}}`,
		`{"type":"ERROR","object":` + status + `}`,
		`{"type":"DEL\u0045TED","object":` + jsonImport + `}`, // escaped: client-go's decoder reads it
		`{"type":"ADDED","object":null}`,
		`{"type":"ADDED"}`,
		`{"type":"ADDED","object":{"kind":`,
		`not json`,
	} {
		var want, got metav1.WatchEvent
		_, _, wantErr := stream.Decode([]byte(frame), nil, &want)
		buf := []byte(frame)
		_, _, gotErr := ours.Decode(buf, nil, &got)
		if (wantErr != nil) != (gotErr != nil) {
			t.Errorf("%.40q: error %v, client-go's %v", frame, gotErr, wantErr)
			continue
		}
		if wantErr != nil {
			continue
		}
		if got.Type != want.Type || !bytes.Equal(got.Object.Raw, want.Object.Raw) {
			t.Errorf("%.40q: got %s %s\nwant %s %s", frame, got.Type, got.Object.Raw, want.Type, want.Object.Raw)
		}
	}
}

// FuzzJSONIdentity checks the identity scan against the API machinery's JSON decoder:
// whatever the scan reads from valid JSON must be what the decoder reads, and no input
// may make it panic.
func FuzzJSONIdentity(f *testing.F) {
	for _, seed := range []string{
		jsonImport,
		`{"kind":"ServiceImport","metadata":{"name":"a","namespace":"b","resourceVersion":"1"}}`,
		`{"kind":"ServiceImport","metadata":{"name":"a\"b","namespace":"\\","resourceVersion":"1"}}`,
		`{"kind":"ServiceImport","metadata":{"name":"a","name":"b"},"spec":[1,{"x":[]}]}`,
		`{"kind":"ServiceImport","metadata":{"name":"é"},"x":true,"y":null,"z":-1.5e3}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		id, ok := jsonIdentity(data, "ServiceImport")
		if !ok {
			return
		}
		var ref struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name            string `json:"name"`
				Namespace       string `json:"namespace"`
				ResourceVersion string `json:"resourceVersion"`
			} `json:"metadata"`
		}
		if k8sjson.Unmarshal(data, &ref) != nil {
			return // invalid inside a value the scan skips: the decoder then rejects the object
		}
		if ref.Kind != "ServiceImport" || ref.Metadata.Name != id.Name || ref.Metadata.Namespace != id.Namespace ||
			ref.Metadata.ResourceVersion != id.ResourceVersion {
			t.Fatalf("scan read %+v, the decoder %+v", id, ref)
		}
	})
}

// FuzzJSONWatchEvent checks the envelope reader against client-go's JSON decoder:
// whenever both read a frame, they read the same type and the same object bytes.
func FuzzJSONWatchEvent(f *testing.F) {
	for _, seed := range []string{
		`{"type":"ADDED","object":` + jsonImport + `}`,
		`{"object":{"kind":"Status"},"type":"ERROR"}`,
		`{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"7"}},"type":"ADDED"}`,
		`{"type":"A\"B","object":{}}`,
	} {
		f.Add([]byte(seed))
	}
	var stream runtime.Serializer
	for _, info := range mcsscheme.Codecs.WithoutConversion().SupportedMediaTypes() {
		if info.MediaType == runtime.ContentTypeJSON {
			stream = info.StreamSerializer.Serializer
		}
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		typ, object, found, err := readJSONEvent(frame)
		if err != nil || !found {
			return
		}
		var want metav1.WatchEvent
		if _, _, err := stream.Decode(frame, nil, &want); err != nil {
			return // invalid inside the object, which the object decoder then rejects
		}
		if string(typ) != want.Type || !bytes.Equal(object, want.Object.Raw) {
			t.Fatalf("read %q %q, client-go %q %q", typ, object, want.Type, want.Object.Raw)
		}
	})
}
