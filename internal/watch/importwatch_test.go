package watch

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"
	mcsv1beta1 "sigs.k8s.io/mcs-api/pkg/apis/v1beta1"
	mcsscheme "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned/scheme"

	"github.com/mcs-dns/multicluster/internal/object"
)

// A relist over the JSON watch: imports the store holds are handed on as the stored
// copy, the others (and everything before the store synced) decoded whole, in both
// API versions.
func TestImportWatchHandsOnStoredVersions(t *testing.T) {
	beta := &mcsv1beta1.ServiceImport{
		TypeMeta:   metav1.TypeMeta{APIVersion: "multicluster.x-k8s.io/v1beta1", Kind: "ServiceImport"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", ResourceVersion: "41", UID: "9a1f"},
		Spec: mcsv1beta1.ServiceImportSpec{Type: mcsv1beta1.ClusterSetIP, IPs: []string{"10.42.0.1"},
			Ports: []mcsv1beta1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80}}},
	}
	alpha := &mcsv1alpha1.ServiceImport{
		TypeMeta:   metav1.TypeMeta{APIVersion: "multicluster.x-k8s.io/v1alpha1", Kind: "ServiceImport"},
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop", ResourceVersion: "42", UID: "9a20"},
		Spec:       mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.Headless},
	}
	for _, tc := range []struct {
		version string
		obj     any
		name    string
		rv      string
	}{
		{"v1beta1", beta, "web", "41"},
		{"v1alpha1", alpha, "db", "42"},
	} {
		t.Run(tc.version, func(t *testing.T) {
			raw, err := json.Marshal(tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				for range 2 {
					ev, _ := json.Marshal(map[string]any{"type": "ADDED", "object": json.RawMessage(raw)})
					_, _ = w.Write(append(ev, '\n'))
				}
			}))
			defer srv.Close()

			held := &object.ServiceImport{Meta: object.Meta{ResourceVersion: tc.rv}, Namespace: "shop", Name: tc.name}
			for _, c := range []struct {
				what           string
				synced, stored bool
				handedOn       bool
			}{
				{"initial list", false, false, false},
				{"initial list, stored (not asked)", false, true, false},
				{"relist, new version", true, false, false},
				{"relist, version held", true, true, true},
			} {
				stored := func(ns, name, rv string) runtime.Object {
					if c.stored && ns == "shop" && name == tc.name && rv == tc.rv {
						return held
					}
					return nil
				}
				client, err := newImportWatchClient(&rest.Config{Host: srv.URL}, tc.version, stored, func() bool { return !c.synced })
				if err != nil {
					t.Fatal(err)
				}
				w, err := watchResource(context.Background(), client, mcsscheme.ParameterCodec, resourceImports, metav1.ListOptions{})
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for ev := range w.ResultChan() {
					n++
					m, ok := ev.Object.(metav1.Object)
					if ev.Type != watch.Added || !ok || m.GetName() != tc.name || m.GetNamespace() != "shop" || m.GetResourceVersion() != tc.rv {
						t.Fatalf("%s: event %s %#v", c.what, ev.Type, ev.Object)
					}
					full := false
					switch o := ev.Object.(type) {
					case *mcsv1beta1.ServiceImport:
						full = o.Spec.Type != ""
					case *mcsv1alpha1.ServiceImport:
						full = o.Spec.Type != ""
					case *object.ServiceImport:
						if o != held {
							t.Errorf("%s: a trimmed import that is not the stored one", c.what)
						}
					default:
						t.Fatalf("%s: %T", c.what, ev.Object)
					}
					if full == c.handedOn {
						t.Errorf("%s: decoded whole %v, want the stored copy %v", c.what, full, c.handedOn)
					}
				}
				if n != 2 {
					t.Errorf("%s: %d events", c.what, n)
				}
			}
		})
	}
}

// BenchmarkDecodeImportEvent decodes one ServiceImport watch event (envelope and
// object) as client-go does, as this watch does before the informer holds the import,
// and as it does in a relist of an import it holds.
func BenchmarkDecodeImportEvent(b *testing.B) {
	frame := []byte(`{"type":"ADDED","object":` + jsonImport + "}\n")
	infos := knownImportSerializer{mcsscheme.Codecs.WithoutConversion(), importDecoderFor("v1beta1", nil, nil)}.SupportedMediaTypes()
	var clientGo, ours runtime.SerializerInfo
	for _, info := range mcsscheme.Codecs.WithoutConversion().SupportedMediaTypes() {
		if info.MediaType == runtime.ContentTypeJSON {
			clientGo = info
		}
	}
	for _, info := range infos {
		if info.MediaType == runtime.ContentTypeJSON {
			ours = info
		}
	}
	decode := func(b *testing.B, info runtime.SerializerInfo, object runtime.Decoder) {
		b.ReportAllocs()
		for b.Loop() {
			var ev metav1.WatchEvent
			if _, _, err := info.StreamSerializer.Decode(frame, nil, &ev); err != nil {
				b.Fatal(err)
			}
			if obj, err := runtime.Decode(object, ev.Object.Raw); err != nil || obj == nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("client-go", func(b *testing.B) { decode(b, clientGo, clientGo.Serializer) })
	b.Run("ours", func(b *testing.B) { decode(b, ours, ours.Serializer) })
	b.Run("ours, version held", func(b *testing.B) {
		held := &object.ServiceImport{}
		d := importDecoderFor("v1beta1", func(string, string, string) runtime.Object { return held }, func() bool { return false })
		d.Serializer = clientGo.Serializer
		decode(b, ours, d)
	})
}
