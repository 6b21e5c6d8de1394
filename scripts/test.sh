#!/bin/sh
# The whole test suite, from a fresh Debian 12 machine: installs the Debian packages
# the build and the tests need (only the missing ones), builds, runs every unit and
# end-to-end test. Ends with "N passed, N failed". Run as root (tests use network
# namespaces, nftables and runc in namespaces and temp dirs of their own).
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh test
make -j"$(nproc)" all >/tmp/minik8s-build.log 2>&1 || { tail -40 /tmp/minik8s-build.log; echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
exec tests/run.sh "$@"
