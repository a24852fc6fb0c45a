package watch

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
)

// watchEnvelope decodes a watch event's envelope without copying the object: its Raw
// aliases the stream's frame buffer, which client-go's watch decoder decodes (with the
// object decoder, which copies what it keeps) before it reads the next frame. client-go
// copies every object out of its envelope first, the largest allocation of a relist
// after decoding itself. read finds the type and the object in one frame; what it does
// not find, the wrapped serializer decodes.
type watchEnvelope struct {
	runtime.Serializer
	read eventReader
}

// eventReader finds the type and the object of one watch event frame; ok is false when
// it cannot.
type eventReader func(frame []byte) (typ, object []byte, ok bool, err error)

// envelopedStream returns info with the watch events of its stream serializer, if it
// has one, read by read.
func envelopedStream(info runtime.SerializerInfo, read eventReader) runtime.SerializerInfo {
	if info.StreamSerializer != nil {
		stream := *info.StreamSerializer
		stream.Serializer = watchEnvelope{stream.Serializer, read}
		info.StreamSerializer = &stream
	}
	return info
}

func (d watchEnvelope) Decode(data []byte, defaults *schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	ev, ok := into.(*metav1.WatchEvent)
	if !ok {
		return d.Serializer.Decode(data, defaults, into)
	}
	typ, object, found, err := d.read(data)
	if err != nil {
		return nil, nil, err
	}
	if !found {
		return d.Serializer.Decode(data, defaults, into)
	}
	*ev = metav1.WatchEvent{Type: eventType(typ)}
	ev.Object.Raw = object
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
