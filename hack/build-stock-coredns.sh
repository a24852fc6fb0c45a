#!/usr/bin/env bash
# build-stock-coredns.sh builds upstream CoreDNS, without the multicluster plugin, into
# .cache/bin/coredns-stock: the CoreDNS that managed clusters (EKS, AKS, k3s) run and
# that forwards clusterset.local to the standalone server in the end to end tests and
# the benchmarks (README "Deploying").
#
# The version is the one the plugin's go.mod requires. It is built from a throwaway
# module that requires only github.com/coredns/coredns, so every dependency is at the
# version upstream's own go.mod gives it, as in a release binary; the Go build cache is
# shared with bin/coredns, so packages at the same versions are not compiled again.
#
# Usage: hack/build-stock-coredns.sh            build unless the pinned binary exists
#        FORCE=1 hack/build-stock-coredns.sh    rebuild
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bindir="${root}/.cache/bin"
bin="${bindir}/coredns-stock"
stamp="${bin}.version"
mkdir -p "${bindir}"

export GOWORK=off GOFLAGS="-mod=mod -buildvcs=false"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }

version="$(sed -n 's#^[[:space:]]*github.com/coredns/coredns[[:space:]]\{1,\}\(v[^[:space:]]*\).*$#\1#p' "${root}/go.mod" | head -1)"
if [[ -z "${version}" ]]; then
	echo "error: no github.com/coredns/coredns requirement in ${root}/go.mod" >&2
	exit 1
fi

if [[ -z "${FORCE:-}" && -x "${bin}" && -f "${stamp}" && "$(cat "${stamp}")" == "${version}" ]]; then
	log "stock CoreDNS ${version} already built: ${bin}"
	exit 0
fi

start=${SECONDS}
log "building stock CoreDNS ${version} (upstream, no multicluster plugin) into ${bin}"
src="${root}/.cache/src/coredns-stock"
rm -rf "${src}"
mkdir -p "${src}"
gover="$(go env GOVERSION)"
gover="${gover#go}"
cat >"${src}/go.mod" <<MOD
module local/coredns-stock-build

go ${gover}

require github.com/coredns/coredns ${version}
MOD
# Keeps the requirement through go mod tidy; the binary is upstream's main package.
cat >"${src}/tools.go" <<'GO'
//go:build tools

package tools

import _ "github.com/coredns/coredns"
GO
(cd "${src}" && go mod tidy -e >/dev/null)
(cd "${src}" && CGO_ENABLED=0 "${root}/hack/gobuild.sh" coredns-stock github.com/coredns/coredns -tags tools -trimpath -o "${bin}.tmp")
mv "${bin}.tmp" "${bin}"

# Upstream's plugin list, checked: forward and cache are there, multicluster is not.
plugins="$("${bin}" -plugins)"
if ! grep -q 'forward' <<<"${plugins}" || grep -q 'multicluster' <<<"${plugins}"; then
	echo "error: ${bin} is not stock CoreDNS; its plugins:" >&2
	echo "${plugins}" >&2
	exit 1
fi
echo "${version}" >"${stamp}"
log "built ${bin} ($("${bin}" -version | head -1)) in $((SECONDS - start))s"
