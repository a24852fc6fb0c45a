//go:build tools

// Package tools pins the mcs-api reference servicecontroller, which
// hack/build-mcs-controller.sh builds into .cache/bin.
package tools

import _ "sigs.k8s.io/mcs-api/controllers/cmd/servicecontroller"
