#!/usr/bin/env bash
# ensure-tools.sh makes sure everything the end-to-end tests, the demo and the benchmarks need is
# present: Debian packages (dig, dnsperf, etcd) and kube-apiserver built into .cache/bin (plus etcd
# built from source when no etcd is on PATH). It ends by printing the binaries' paths as
#   etcd=/path/to/etcd
#   kube-apiserver=/path/to/kube-apiserver
# Safe to run repeatedly: each step skips what is already there.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/.." && pwd)"

"${here}/install-deps.sh"
"${here}/build-apiserver.sh"
"${here}/build-stock-coredns.sh"

etcd_bin=""
if [[ -x "${root}/.cache/bin/etcd" ]]; then
	etcd_bin="${root}/.cache/bin/etcd"
elif command -v etcd >/dev/null 2>&1; then
	etcd_bin="$(command -v etcd)"
fi
apiserver_bin="${root}/.cache/bin/kube-apiserver"

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
