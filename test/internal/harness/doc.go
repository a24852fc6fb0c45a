// Package harness is what the end-to-end suite (test/e2e), the demo (test/demo) and the
// benchmarks (test/bench) share to run the multicluster plugin for real: starting and
// stopping bin/coredns, free ports, dig and its output, deploy/'s manifests, and the
// objects an MCS controller writes (ServiceImports and EndpointSlices).
package harness
