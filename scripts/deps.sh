#!/bin/sh
# Install the Debian packages minik8s needs to build, run and test.
# Idempotent: only missing packages are installed; apt-get update runs only then.
set -eu
BUILD="build-essential pkg-config libsqlite3-dev libmicrohttpd-dev libcjson-dev
  libcurl4-openssl-dev libyaml-dev libprotobuf-c-dev protobuf-c-compiler
  libgnutls28-dev libarchive-dev libzstd-dev libssl-dev libnl-3-dev
  libnl-route-3-dev libnftnl-dev libmnl-dev zlib1g-dev"
RUNTIME="ca-certificates iproute2 runc nftables"
TEST="check curl python3 jq busybox-static docker-registry skopeo umoci dnsutils zstd openssl bash vagrant clang libclang-rt-14-dev python3-kubernetes python3-websocket"
case "${1:-build}" in
  build) PKGS="$BUILD $RUNTIME" ;;
  test)  PKGS="$BUILD $RUNTIME $TEST" ;;
  bench) PKGS="$BUILD $RUNTIME $TEST wrk iptables dnsperf" ;;
  *) echo "usage: $0 [build|test|bench]" >&2; exit 2 ;;
esac
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "minik8s: missing Debian packages:$missing (run as root to install them)" >&2
  exit 1
fi
echo "minik8s: installing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
