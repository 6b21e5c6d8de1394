#!/bin/sh
# Brings up minik8s on this machine: installs the Debian packages it lacks, builds,
# installs the binary to /usr/local/bin and runs `minik8s up` (extra arguments are
# passed on, e.g. --server URL --token T to join a cluster). Run as root.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh build
make -j"$(nproc)" build/minik8s >/tmp/minik8s-build.log 2>&1 || { tail -40 /tmp/minik8s-build.log; echo "minik8s: build failed (log: /tmp/minik8s-build.log)" >&2; exit 1; }
install -m 0755 build/minik8s /usr/local/bin/minik8s
install -m 0755 build/minik8s-shim /usr/local/bin/minik8s-shim
exec /usr/local/bin/minik8s up "$@"
