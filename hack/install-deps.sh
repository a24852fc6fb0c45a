#!/usr/bin/env bash
# install-deps.sh installs the Debian packages the end-to-end tests, the demo and the benchmarks
# use, if they are missing: dig (dnsutils), dnsperf, etcd (etcd-server), named-checkzone
# (bind9-utils), named (bind9, the zone-transfer secondary of the NOTIFY test), dnsmasq
# (dnsmasq-base: kube-dns's forwarder, in front of the standalone server), and podman, runc
# and skopeo for the image tests (podman runs the image with runc: its default runtime, crun,
# cannot set resource limits on these machines), and for the kubelet node of the pod tests
# (test/node): containerd, the CNI plugins, busybox-static (the test pods' image), socat and
# netcat-openbsd (in the images of the MCS conformance suite's pods), iptables (kube-proxy) and
# iproute2. Idempotent: it runs `apt-get update` and `apt-get install` only when something is missing.
#
# Certificates are generated in Go (test/controlplane), so openssl is not needed.
#
# Exit status is 0 when apt is unavailable (no root, no sudo, no apt-get): it says what is missing
# and leaves the fallback (etcd built from source by hack/build-apiserver.sh) to the caller.
set -euo pipefail

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }

# command -> Debian package that provides it
declare -A pkgs=(
	[dig]=dnsutils
	[dnsperf]=dnsperf
	[etcd]=etcd-server
	[named-checkzone]=bind9-utils
	[podman]=podman
	[runc]=runc
	[skopeo]=skopeo
	[named]=bind9
	[dnsmasq]=dnsmasq-base
	[containerd]=containerd
	[/usr/lib/cni/bridge]=containernetworking-plugins
	[/bin/busybox]=busybox-static
	[iptables]=iptables
	[ip]=iproute2
	[socat]=socat
	[/usr/bin/nc.openbsd]=netcat-openbsd
)
cmds=(dig dnsperf etcd named-checkzone named dnsmasq podman runc skopeo containerd /usr/lib/cni/bridge /bin/busybox iptables ip socat /usr/bin/nc.openbsd)

missing=()
for cmd in "${cmds[@]}"; do
	if command -v "${cmd}" >/dev/null 2>&1; then
		log "${cmd}: $(command -v "${cmd}")"
	else
		log "${cmd}: missing (Debian package ${pkgs[${cmd}]})"
		missing+=("${pkgs[${cmd}]}")
	fi
done

if ((${#missing[@]} == 0)); then
	log "all Debian dependencies present"
	exit 0
fi

sudo=()
if [[ "$(id -u)" != 0 ]]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo=(sudo -n)
	else
		log "warning: not root and no password-less sudo: cannot install ${missing[*]}" >&2
		exit 0
	fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
	log "warning: apt-get not found: cannot install ${missing[*]}" >&2
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive
log "apt-get update"
if ! "${sudo[@]}" apt-get update -qq; then
	log "warning: apt-get update failed: cannot install ${missing[*]}" >&2
	exit 0
fi
log "apt-get install -y ${missing[*]}"
if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
	log "warning: apt-get install ${missing[*]} failed" >&2
	exit 0
fi

# etcd-server's package starts a system etcd on 127.0.0.1:2379 where systemd runs; we start our
# own on free ports, so stop it if it came up (harmless when there is no init system).
if [[ " ${missing[*]} " == *" etcd-server "* ]] && command -v systemctl >/dev/null 2>&1; then
	"${sudo[@]}" systemctl disable --now etcd >/dev/null 2>&1 || true
fi
# Likewise bind9 starts a system named on port 53; the tests run their own.
if [[ " ${missing[*]} " == *" bind9 "* ]] && command -v systemctl >/dev/null 2>&1; then
	"${sudo[@]}" systemctl disable --now named >/dev/null 2>&1 || true
fi

for cmd in "${cmds[@]}"; do
	if command -v "${cmd}" >/dev/null 2>&1; then
		log "${cmd}: $(command -v "${cmd}")"
	else
		log "warning: ${cmd} still missing" >&2
	fi
done
