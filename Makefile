# The project's commands. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
GO ?= go
BIN := bin

.PHONY: all coredns image test test-banner unit e2e tools demo demo-down clusterset clusterset-down bench bench-banner fuzz clean

all: coredns

# CoreDNS (the version in go.mod) with all its standard plugins plus multicluster
# right after kubernetes in the plugin chain.
coredns:
	@mkdir -p $(BIN)
	@echo "==> building $(BIN)/coredns (CoreDNS with all standard plugins + multicluster; about 3 minutes the first time)"
	cd coredns && CGO_ENABLED=0 ../hack/gobuild.sh coredns . -trimpath -o ../$(BIN)/coredns
	@./$(BIN)/coredns -plugins | grep -q "dns\.multicluster" && echo "==> $(BIN)/coredns lists dns.multicluster"

# The OCI image of bin/coredns (README "Deploying"): FROM scratch, non-root, written as an
# OCI archive without a container daemon; the same binary always gives the same digest.
# Load it with `podman load -i $(IMAGE_ARCHIVE)` or push it with
# `skopeo copy oci-archive:$(IMAGE_ARCHIVE) docker://REGISTRY/NAME:TAG`.
IMAGE ?= localhost/coredns-multicluster:dev
IMAGE_ARCHIVE ?= $(BIN)/coredns-multicluster.oci.tar
image: coredns
	cd test && $(GO) run ./image/cmd/mcs-image -binary ../$(BIN)/coredns -o ../$(IMAGE_ARCHIVE) -name $(IMAGE)

# Every test: unit tests (race detector), then the end-to-end suite against a real
# kube-apiserver + etcd, the built CoreDNS and dig.
test: test-banner unit e2e

test-banner:
	@echo "==> make test: unit tests (race detector), then the end-to-end suite; on a fresh 2-core machine the first run compiles for about 35 minutes (race-instrumented tests, the Kubernetes binaries, the mcs-api servicecontroller, CoreDNS with and without the plugin, the e2e binary) before the suite runs (about 4 minutes)"

unit:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...
	@# The same build flags as `make coredns`: vet, the test and the binary share one compile
	@# of CoreDNS's ~1,200 packages instead of two.
	cd coredns && CGO_ENABLED=0 $(GO) vet -trimpath ./... && CGO_ENABLED=0 $(GO) test -trimpath -count=1 ./...

tools:
	@echo "==> tools: dig, dnsperf, etcd, podman (apt) and kube-apiserver (compiled once into .cache/bin: about 5 minutes the first time), kube-controller-manager and the mcs-api servicecontroller for the real ClusterSet (about 7 minutes more)"
	./hack/ensure-tools.sh

e2e: tools coredns
	cd test && $(GO) vet ./...
	cd test && MCS_E2E_REQUIRED=1 $(GO) test -count=1 -timeout 30m ./...

# The demo: one command on a fresh machine. It installs the tools, starts etcd +
# kube-apiserver under .demo/, loads a sample ClusterSet, starts bin/coredns on
# 127.0.0.1:1053 (another port if taken), digs the sample names and leaves it all
# running. `make demo-down` stops it and removes .demo/.
# The first run on a fresh 2-core machine compiles kube-apiserver and CoreDNS: about 17
# minutes (README "Quick start"), more when other builds share the cores; both builds
# print packages compiled / total and the time left. Later runs: seconds.
FIRST_RUN := the first run on a fresh 2-core machine takes about 17 minutes (measured: README "Quick start"), nearly all of it compiling kube-apiserver and CoreDNS (progress below); later runs take seconds
demo:
	@echo "==> make demo: $(FIRST_RUN)"
	MCS_BASE_TOOLS_ONLY=1 ./hack/ensure-tools.sh
	@echo "==> CoreDNS with the plugin"
	$(MAKE) --no-print-directory coredns
	@echo "==> the demo itself"
	cd test && $(GO) run ./demo up
	@echo "==> the demo's ClusterSet is hand-written objects; \`make clusterset\` runs a real one (two clusters, real controllers; README \"A real ClusterSet\")"

demo-down:
	cd test && $(GO) run ./demo down

# A real ClusterSet (README "A real ClusterSet"): clusters east (IPv4) and west (dual-stack),
# each etcd, kube-apiserver, kube-controller-manager, kube-scheduler, the mcs-api
# servicecontroller and a kubelet node (containerd, kube-proxy; in network namespace
# mcs-<cluster>) with CoreDNS from deploy/ in it, plus the exporter; kubeconfig
# .clusterset/kubeconfig (contexts east and west); then a dig walk-through beside the Pods and
# EndpointSlices, and lookups from inside pods. It keeps running in the background
# (mcs-clusterset serve) until `make clusterset-down`. Where this machine cannot run a kubelet,
# it says why and runs the clusters without nodes (CoreDNS on loopback).
clusterset:
	@echo "==> make clusterset: tools (kube-controller-manager, kube-scheduler, kubelet, kube-proxy and the mcs-api servicecontroller on top of make demo's), CoreDNS, the exporter, then two clusters"
	./hack/ensure-tools.sh
	$(MAKE) --no-print-directory coredns
	cd test && $(GO) build -o ../.cache/bin/mcs-exporter ./clusterset/cmd/mcs-exporter
	cd test && $(GO) build -o ../.cache/bin/mcs-clusterset ./clusterset/cmd/mcs-clusterset
	./.cache/bin/mcs-clusterset up -exporter .cache/bin/mcs-exporter

clusterset-down:
	cd test && $(GO) build -o ../.cache/bin/mcs-clusterset ./clusterset/cmd/mcs-clusterset
	./.cache/bin/mcs-clusterset down

# Benchmarks, not part of `make test` (BENCHMARKS.md says what and how): dnsperf
# throughput and latency of the file plugin, the in-tree kubernetes multicluster option
# and this plugin, one CoreDNS each against one real control plane; memory, time to
# ready, relists and API write to answer under churn from 1,000 to 100,000
# ServiceImports and from 100,000 to 3 million endpoints over 200 clusters (with the
# plot BENCHMARKS-scale.svg); API write to answer under load; the Go microbenchmarks.
# About 43 minutes after the tools and CoreDNS are built. Results go to
# .cache/bench/<time>/ and replace the generated section of BENCHMARKS.md.
# BENCH_FLAGS passes options, e.g. BENCH_FLAGS="-phases throughput -runs 5".
BENCH_FLAGS ?=
bench: bench-banner tools coredns
	cd test && $(GO) build -o ../.cache/bench/mcsbench ./bench
	./.cache/bench/mcsbench -update BENCHMARKS.md $(BENCH_FLAGS)

bench-banner:
	@echo "==> make bench: about 43 minutes of benchmarks (26 of them the scale phase, up to 3 million endpoints); the first run on a fresh machine compiles kube-apiserver, etcd and CoreDNS first (about 15 minutes)"

# Short fuzzing run over query names and types (the seed corpus also runs in `make unit`).
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzServeDNS -fuzztime 60s .

clean:
	rm -rf $(BIN)
