#!/usr/bin/env bash
# gobuild.sh runs `go build` with progress: how many packages it has compiled of how many need
# compiling, and an estimate of the time left. Long builds here (kube-apiserver: about 2,000
# packages, 4-5 minutes on 2 cores; CoreDNS: about 1,400, 3 minutes) otherwise print nothing
# until they are done.
#
#   hack/gobuild.sh LABEL PACKAGE [go build flags...]    (run in the module's directory)
#
# The total comes from `go list -deps` with the same flags: the packages whose cached build is
# stale. The count comes from `go build -x`, which prints one compile command per package it
# compiles (packages found in the build cache print none); the rest of that output (tens of MB
# for kube-apiserver) is dropped. On failure the build runs again without -x so the compiler's
# errors show (everything that compiled is cached, so that takes seconds).
# PROGRESS_EVERY (seconds, default 15) spaces the progress lines.
set -euo pipefail

if (($# < 2)); then
	echo "usage: $0 LABEL PACKAGE [go build flags...]" >&2
	exit 2
fi
label="$1" pkg="$2"
shift 2
every="${PROGRESS_EVERY:-15}"
log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }

# Flags that change what is compiled (tags, -trimpath, ...) change staleness too; -o and
# -ldflags only matter to the link, which go list does not do.
list_flags=()
skip=0
for f in "$@"; do
	if ((skip)); then
		skip=0
		continue
	fi
	case "${f}" in
	-o | -ldflags) skip=1 ;;
	-o=* | -ldflags=*) ;;
	*) list_flags+=("${f}") ;;
	esac
done

start=${SECONDS}
total="$(go list -deps "${list_flags[@]}" -f '{{if .Stale}}{{.ImportPath}}{{end}}' "${pkg}" | grep -c . || true)"
if ((total == 0)); then
	log "${label}: every package is in the build cache; linking"
else
	log "${label}: ${total} package(s) to compile (counted in $((SECONDS - start))s)"
fi

fmt_dur() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

set +e
go build -x "$@" "${pkg}" 2>&1 | grep --line-buffered -E '/compile -o ' | {
	done_n=0 last=${SECONDS}
	while read -r _; do
		done_n=$((done_n + 1))
		now=${SECONDS}
		if ((now - last >= every && total > 0)); then
			last=${now}
			el=$((now - start))
			n=$((done_n < total ? done_n : total))
			left=$((el * (total - n) / (n > 0 ? n : 1)))
			log "${label}: ${n}/${total} packages compiled ($((100 * n / total))%), $(fmt_dur "${el}") so far, about $(fmt_dur "${left}") left"
		fi
	done
}
rc=${PIPESTATUS[0]}
set -e
if ((rc != 0)); then
	log "${label}: go build failed (exit ${rc}); its errors:" >&2
	go build "$@" "${pkg}"
	exit "${rc}"
fi
log "${label}: built in $(fmt_dur $((SECONDS - start)))"
