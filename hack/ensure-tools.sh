#!/usr/bin/env bash
# ensure-tools.sh makes sure everything the end-to-end tests, the demo and the benchmarks need is
# present: Debian packages (dig, dnsperf, etcd), kube-apiserver and kube-controller-manager built
# into .cache/bin (plus etcd built from source when no etcd is on PATH), and the mcs-api
# servicecontroller built into .cache/bin (the real ClusterSet: TestRealClusterSet, make
# clusterset). It ends by printing the binaries' paths as
#   etcd=/path/to/etcd
#   kube-apiserver=/path/to/kube-apiserver
#   kube-controller-manager=/path/to/kube-controller-manager
#   mcs-servicecontroller=/path/to/mcs-servicecontroller
# MCS_BASE_TOOLS_ONLY=1 skips kube-controller-manager and the servicecontroller (make demo, which
# runs neither). Safe to run repeatedly: each step skips what is already there.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/.." && pwd)"

base_only="${MCS_BASE_TOOLS_ONLY:-}"

"${here}/install-deps.sh"
WITHOUT_KCM="${base_only}" "${here}/build-apiserver.sh"
"${here}/build-stock-coredns.sh"
if [[ -z "${base_only}" ]]; then
	"${here}/build-mcs-controller.sh"
fi

etcd_bin=""
if [[ -x "${root}/.cache/bin/etcd" ]]; then
	etcd_bin="${root}/.cache/bin/etcd"
elif command -v etcd >/dev/null 2>&1; then
	etcd_bin="$(command -v etcd)"
fi
apiserver_bin="${root}/.cache/bin/kube-apiserver"
kcm_bin="${root}/.cache/bin/kube-controller-manager"
mcs_bin="${root}/.cache/bin/mcs-servicecontroller"

if [[ -z "${etcd_bin}" ]]; then
	echo "error: no etcd found" >&2
	exit 1
fi
if [[ ! -x "${apiserver_bin}" ]]; then
	echo "error: no kube-apiserver at ${apiserver_bin}" >&2
	exit 1
fi
echo "etcd=${etcd_bin}"
echo "kube-apiserver=${apiserver_bin}"
if [[ -n "${base_only}" ]]; then
	exit 0
fi
for bin in "${kcm_bin}" "${mcs_bin}"; do
	if [[ ! -x "${bin}" ]]; then
		echo "error: no ${bin##*/} at ${bin}" >&2
		exit 1
	fi
done
echo "kube-controller-manager=${kcm_bin}"
echo "mcs-servicecontroller=${mcs_bin}"
