#!/usr/bin/env bash
# build-mcs-controller.sh builds the mcs-api reference servicecontroller
# (sigs.k8s.io/mcs-api/controllers/cmd/servicecontroller) into .cache/bin/mcs-servicecontroller.
#
# It is built from hack/mcs-controller, a module of its own with a committed go.mod and go.sum,
# so that its dependency graph (controller-runtime v0.20, client-go v0.32) never reaches the
# plugin's go.mod or test/go.mod. The module proxy serves the controller only as a
# pseudo-version (the controllers/v0.5.0 tag is refused), pinned there with mcs-api v0.5.2.
# The checksum database has no entry for it: GONOSUMDB=sigs.k8s.io, and go.sum holds the hash.
#
# Usage: hack/build-mcs-controller.sh            build it unless the pinned one is there
#        FORCE=1 hack/build-mcs-controller.sh    rebuild
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/.." && pwd)"
src="${here}/mcs-controller"
bindir="${root}/.cache/bin"
bin="${bindir}/mcs-servicecontroller"
stamp="${bin}.version"
mkdir -p "${bindir}"

export GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false" GONOSUMDB="sigs.k8s.io${GONOSUMDB:+,${GONOSUMDB}}"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }

# The stamp is the pinned version: a change of go.mod rebuilds.
version="$(cd "${src}" && go list -m -f '{{.Version}}' sigs.k8s.io/mcs-api/controllers)"
if [[ -z "${FORCE:-}" && -x "${bin}" && -f "${stamp}" && "$(cat "${stamp}")" == "${version}" ]]; then
	log "mcs-servicecontroller ${version} already built: ${bin}"
	exit 0
fi

log "building the mcs-api servicecontroller ${version} (about 540 packages to compile beyond the Go build cache; first run about 4.5 minutes on 2 cores)"
(cd "${src}" && "${here}/gobuild.sh" mcs-servicecontroller sigs.k8s.io/mcs-api/controllers/cmd/servicecontroller \
	-tags tools -trimpath -ldflags "-s -w" -o "${bin}.tmp")
mv "${bin}.tmp" "${bin}"
echo "${version}" >"${stamp}"
log "built ${bin}"
