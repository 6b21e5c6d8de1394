#!/bin/bash
# Container start latency through pkg/runtime beside plain runc (needs root, runc,
# busybox-static). Usage: bench/runtime/run.sh [N]
set -eu
cd "$(dirname "$0")/../.."
R=$(mktemp -d /tmp/mkrt-rootfs.XXXXXX)
trap 'rm -rf "$R"' EXIT
tests/lib/mkrootfs.sh "$R/rootfs" >/dev/null
build/bench/runtime/runtime_bench "$R/rootfs" "${1:-20}"
