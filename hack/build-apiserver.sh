#!/usr/bin/env bash
# build-apiserver.sh builds kube-apiserver and kube-controller-manager (pinned) into .cache/bin
# from the Go module proxy.
#
# Neither has a Debian package, and `go install k8s.io/kubernetes/cmd/kube-apiserver@v` is
# refused because k8s.io/kubernetes's go.mod replaces its staging modules with local paths.
# So we build them from a throwaway module that requires k8s.io/kubernetes and points every
# staging module at its published k8s.io/NAME v0.Y.Z release instead. kube-controller-manager
# (the real ClusterSet's EndpointSlice, ServiceAccount, garbage-collector and namespace
# controllers) comes from the same module and version: about 370 packages more, most of the
# rest already in the build cache from kube-apiserver. So do kube-scheduler, the kubelet and
# kube-proxy, for the kubelet node of the pod tests (test/node, TestPodsResolve).
#
# It also builds etcd (v3.6) the same way, which the control plane prefers to Debian's etcd 3.4:
# etcd 3.4 does not answer watch progress requests, without which kube-apiserver cannot serve
# streaming lists (WatchList, KEP-3157) and every informer falls back to a full LIST.
#
# Usage: hack/build-apiserver.sh                 build what is missing
#        FORCE=1 hack/build-apiserver.sh         rebuild even if the pinned binaries exist
#        WITHOUT_KCM=1 hack/build-apiserver.sh   only kube-apiserver and etcd (make demo): no
#                                                controller-manager, scheduler, kubelet or kube-proxy
set -euo pipefail

KUBE_VERSION="v1.35.4"        # every Kubernetes binary here, checked to build and run here
STAGING_VERSION="v0.35.4"     # the staging modules' release matching KUBE_VERSION
ETCD_FALLBACK_VERSION="v3.6.13"
KUBE_COMMANDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${root}/.cache"
bindir="${cache}/bin"
mkdir -p "${bindir}"

# Build outside any go.work of the caller and with the module proxy; never touch the repo's go.mod.
export GOWORK=off GOFLAGS="-mod=mod -buildvcs=false"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }

# minor extracts "35" from "v1.35.4".
minor() { local v="${1#v}"; v="${v#*.}"; echo "${v%%.*}"; }

# built NAME: the pinned NAME is in .cache/bin (and FORCE is unset).
built() {
	local bin="${bindir}/$1" stamp="${bindir}/$1.version"
	[[ -z "${FORCE:-}" && -x "${bin}" && -f "${stamp}" && "$(cat "${stamp}")" == "${KUBE_VERSION}" ]]
}

# prepare_wrapper writes the throwaway module in .cache/src/kube-apiserver (once per version and
# set of commands) and downloads what it needs.
prepare_wrapper() {
	local src="${cache}/src/kube-apiserver"
	local want="${KUBE_VERSION} ${KUBE_COMMANDS[*]}"
	if [[ -f "${src}/.prepared" && "$(cat "${src}/.prepared")" == "${want}" ]]; then
		return 0
	fi
	rm -rf "${src}"
	mkdir -p "${src}"

	log "fetching k8s.io/kubernetes@${KUBE_VERSION} go.mod"
	local gomod
	gomod="$(cd "${src}" && go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" |
		sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
	if [[ -z "${gomod}" || ! -f "${gomod}" ]]; then
		echo "error: could not find the go.mod of k8s.io/kubernetes@${KUBE_VERSION}" >&2
		exit 1
	fi

	# Every `k8s.io/NAME => ./staging/src/k8s.io/NAME` becomes `k8s.io/NAME => k8s.io/NAME vSTAGING`.
	local replaces
	replaces="$(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._/-]*\)[[:space:]]*=>[[:space:]]*\./staging/.*$#\t\1 => \1 '"${STAGING_VERSION}"'#p' "${gomod}")"
	if [[ -z "${replaces}" ]]; then
		echo "error: no staging replace directives found in ${gomod}" >&2
		exit 1
	fi
	log "pinning $(wc -l <<<"${replaces}") staging modules to ${STAGING_VERSION}"

	local gover
	gover="$(go env GOVERSION)"
	gover="${gover#go}"
	cat >"${src}/go.mod" <<GOMOD
module local/kube-apiserver-build

go ${gover}

require k8s.io/kubernetes ${KUBE_VERSION}

replace (
${replaces}
)
GOMOD
	{
		printf '//go:build tools\n\npackage tools\n\nimport (\n'
		local cmd
		for cmd in "${KUBE_COMMANDS[@]}"; do
			printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "${cmd}"
		done
		printf ')\n'
	} >"${src}/tools.go"

	log "go mod tidy (downloads modules)"
	(cd "${src}" && go mod tidy -e >/dev/null)
	echo "${want}" >"${src}/.prepared"
}

# build_kube NAME builds k8s.io/kubernetes/cmd/NAME into .cache/bin/NAME unless it is there.
build_kube() {
	local name="$1" about="$2"
	local bin="${bindir}/${name}" stamp="${bindir}/${name}.version"
	if built "${name}"; then
		log "${name} ${KUBE_VERSION} already built: ${bin}"
		return 0
	fi

	local start=${SECONDS}
	log "building ${name} ${KUBE_VERSION} from the Go module proxy: ${about}; later runs reuse .cache/bin"
	prepare_wrapper
	log "go build k8s.io/kubernetes/cmd/${name}"
	local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${KUBE_VERSION}"
	ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(minor "${KUBE_VERSION}")"
	ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
	(cd "${cache}/src/kube-apiserver" && "${root}/hack/gobuild.sh" "${name}" "k8s.io/kubernetes/cmd/${name}" -tags tools -trimpath -ldflags "${ldflags}" -o "${bin}.tmp")
	mv "${bin}.tmp" "${bin}"

	local got
	got="$("${bin}" --version 2>/dev/null || true)"
	if [[ "${got}" != *"${KUBE_VERSION}"* ]]; then
		echo "error: built ${name} reports '${got}', want ${KUBE_VERSION}" >&2
		exit 1
	fi
	echo "${KUBE_VERSION}" >"${stamp}"
	log "built ${bin} (${got}) in $((SECONDS - start))s"
}

build_etcd() {
	local bin="${bindir}/etcd"
	local stamp="${bindir}/etcd.version"
	if [[ -z "${FORCE_ETCD:-}" ]]; then
		if [[ -x "${bin}" && -f "${stamp}" && "$(cat "${stamp}")" == "${ETCD_FALLBACK_VERSION}" ]]; then
			log "etcd ${ETCD_FALLBACK_VERSION} already built: ${bin}"
			return 0
		fi
	fi

	local start=${SECONDS}
	log "building etcd ${ETCD_FALLBACK_VERSION} from the Go module proxy (about 30-60 s)"
	local src="${cache}/src/etcd"
	rm -rf "${src}"
	mkdir -p "${src}"
	local gover
	gover="$(go env GOVERSION)"
	gover="${gover#go}"
	cat >"${src}/go.mod" <<EOF
module local/etcd-build

go ${gover}

require go.etcd.io/etcd/server/v3 ${ETCD_FALLBACK_VERSION}
EOF
	cat >"${src}/tools.go" <<'EOF'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
EOF
	(cd "${src}" && go mod tidy -e >/dev/null)
	(cd "${src}" && go build -tags tools -trimpath -ldflags "-s -w" -o "${bin}.tmp" go.etcd.io/etcd/server/v3)
	mv "${bin}.tmp" "${bin}"
	"${bin}" --version | head -1
	echo "${ETCD_FALLBACK_VERSION}" >"${stamp}"
	log "built ${bin} in $((SECONDS - start))s"
}

build_kube kube-apiserver "about 2,000 packages, about 5 minutes on 2 cores the first time"
if [[ -z "${WITHOUT_KCM:-}" ]]; then
	build_kube kube-controller-manager "about 370 packages more than kube-apiserver, about 2.5 minutes after it"
	# The node of the pod tests (test/node): kube-scheduler places the pods, the kubelet runs
	# them, kube-proxy routes Services to them. Most of their packages are already built.
	build_kube kube-scheduler "about 100 packages more, under a minute after kube-apiserver"
	build_kube kubelet "about 300 packages more, about a minute after kube-controller-manager"
	build_kube kube-proxy "about 50 packages more, under a minute after the kubelet"
fi
build_etcd
