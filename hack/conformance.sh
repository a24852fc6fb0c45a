#!/usr/bin/env bash
# conformance.sh runs the MCS conformance suite (sigs.k8s.io/mcs-api/conformance, ginkgo)
# against the ClusterSet that `make clusterset` leaves running: contexts east (the cluster that
# deploys and exports) and west of .clusterset/kubeconfig. The Go module proxy does not serve
# that module, so it is built from a copy of the kubernetes-sigs/mcs-api repository kept
# outside this one (test/conformance/README.md says which commit was run and what passed).
#
# Usage: hack/conformance.sh MCS_API_DIR [LABEL_FILTER]   (default filter: DNS)
# The test binary is cached in .cache/conformance/ (rebuilt when MCS_API_DIR changes); the
# suite writes report.html and report.yaml into .clusterset/conformance/.
set -euo pipefail

src="${1:?usage: hack/conformance.sh MCS_API_DIR [LABEL_FILTER]}"
filter="${2:-DNS}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
src="$(cd "$src" && pwd)"
kubeconfig="${repo}/.clusterset/kubeconfig"

if [[ ! -f "${src}/conformance/go.mod" ]]; then
	echo "conformance.sh: ${src}/conformance/go.mod not found: MCS_API_DIR must be a copy of kubernetes-sigs/mcs-api" >&2
	exit 2
fi
case "${src}/" in "${repo}/"*)
	echo "conformance.sh: keep the mcs-api copy outside this repository (${src})" >&2
	exit 2 ;;
esac
if [[ ! -f "${kubeconfig}" ]]; then
	echo "conformance.sh: no ${kubeconfig}: start the ClusterSet first (make clusterset)" >&2
	exit 1
fi

bin="${repo}/.cache/conformance/conformance.test"
mkdir -p "$(dirname "${bin}")" "${repo}/.clusterset/conformance"
if [[ ! -x "${bin}" || "$(cat "${bin}.source" 2>/dev/null)" != "${src}" ]]; then
	echo "==> building the conformance suite from ${src}/conformance (a few minutes the first time)"
	(cd "${src}/conformance" && go test -c -o "${bin}" .)
	echo "${src}" >"${bin}.source"
fi
cd "${repo}/.clusterset/conformance"
echo "==> ${bin} -kubeconfig=${kubeconfig} -contexts=east,west -ginkgo.label-filter=${filter}"
exec "${bin}" -kubeconfig="${kubeconfig}" -contexts=east,west -ginkgo.label-filter="${filter}" -ginkgo.v -ginkgo.no-color
