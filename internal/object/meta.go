package object

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Meta gives the trimmed objects the metav1.Object methods that client-go's
// reflector and stores may call on stored objects. Only the resource version is kept
// (the reflector and stores compare it); everything else reads as empty and setters
// are no-ops, so no ObjectMeta (hundreds of bytes each) is held per object.
type Meta struct{ ResourceVersion string }

func (m Meta) GetResourceVersion() string                  { return m.ResourceVersion }
func (Meta) SetResourceVersion(string)                     {}
func (Meta) SetNamespace(string)                           {}
func (Meta) SetName(string)                                {}
func (Meta) GetGenerateName() string                       { return "" }
func (Meta) SetGenerateName(string)                        {}
func (Meta) GetUID() types.UID                             { return "" }
func (Meta) SetUID(types.UID)                              {}
func (Meta) GetGeneration() int64                          { return 0 }
func (Meta) SetGeneration(int64)                           {}
func (Meta) GetSelfLink() string                           { return "" }
func (Meta) SetSelfLink(string)                            {}
func (Meta) GetCreationTimestamp() metav1.Time             { return metav1.Time{} }
func (Meta) SetCreationTimestamp(metav1.Time)              {}
func (Meta) GetDeletionTimestamp() *metav1.Time            { return nil }
func (Meta) SetDeletionTimestamp(*metav1.Time)             {}
func (Meta) GetDeletionGracePeriodSeconds() *int64         { return nil }
func (Meta) SetDeletionGracePeriodSeconds(*int64)          {}
func (Meta) GetLabels() map[string]string                  { return nil }
func (Meta) SetLabels(map[string]string)                   {}
func (Meta) GetAnnotations() map[string]string             { return nil }
func (Meta) SetAnnotations(map[string]string)              {}
func (Meta) GetFinalizers() []string                       { return nil }
func (Meta) SetFinalizers([]string)                        {}
func (Meta) GetOwnerReferences() []metav1.OwnerReference   { return nil }
func (Meta) SetOwnerReferences([]metav1.OwnerReference)    {}
func (Meta) GetManagedFields() []metav1.ManagedFieldsEntry { return nil }
func (Meta) SetManagedFields([]metav1.ManagedFieldsEntry)  {}

var (
	_ metav1.Object = (*ServiceImport)(nil)
	_ metav1.Object = (*EndpointSlice)(nil)
)
