package object

// ServiceKey names an imported service: the namespace and name of its ServiceImport,
// and the service-name label of its EndpointSlices.
type ServiceKey struct {
	Namespace string
	Name      string
}
