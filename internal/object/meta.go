package multicluster

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// metaStub gives the trimmed objects the metav1.Object methods that client-go's
// reflector and stores may call on stored objects. Only the resource version is kept
// (the reflector and stores compare it); everything else reads as empty and setters
// are no-ops, so no ObjectMeta (hundreds of bytes each) is held per object.
type metaStub struct{ rv string }

func (m metaStub) GetResourceVersion() string                  { return m.rv }
func (metaStub) SetResourceVersion(string)                     {}
func (metaStub) SetNamespace(string)                           {}
func (metaStub) SetName(string)                                {}
func (metaStub) GetGenerateName() string                       { return "" }
func (metaStub) SetGenerateName(string)                        {}
func (metaStub) GetUID() types.UID                             { return "" }
func (metaStub) SetUID(types.UID)                              {}
func (metaStub) GetGeneration() int64                          { return 0 }
func (metaStub) SetGeneration(int64)                           {}
func (metaStub) GetSelfLink() string                           { return "" }
func (metaStub) SetSelfLink(string)                            {}
func (metaStub) GetCreationTimestamp() metav1.Time             { return metav1.Time{} }
func (metaStub) SetCreationTimestamp(metav1.Time)              {}
func (metaStub) GetDeletionTimestamp() *metav1.Time            { return nil }
func (metaStub) SetDeletionTimestamp(*metav1.Time)             {}
func (metaStub) GetDeletionGracePeriodSeconds() *int64         { return nil }
func (metaStub) SetDeletionGracePeriodSeconds(*int64)          {}
func (metaStub) GetLabels() map[string]string                  { return nil }
func (metaStub) SetLabels(map[string]string)                   {}
func (metaStub) GetAnnotations() map[string]string             { return nil }
func (metaStub) SetAnnotations(map[string]string)              {}
func (metaStub) GetFinalizers() []string                       { return nil }
func (metaStub) SetFinalizers([]string)                        {}
func (metaStub) GetOwnerReferences() []metav1.OwnerReference   { return nil }
func (metaStub) SetOwnerReferences([]metav1.OwnerReference)    {}
func (metaStub) GetManagedFields() []metav1.ManagedFieldsEntry { return nil }
func (metaStub) SetManagedFields([]metav1.ManagedFieldsEntry)  {}

var (
	_ metav1.Object = (*serviceImport)(nil)
	_ metav1.Object = (*endpointSlice)(nil)
)
