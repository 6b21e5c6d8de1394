#!/bin/sh
# Install the Debian packages minik8s needs to build, run and test.
# Idempotent: only missing packages are installed; apt-get update runs only then.
set -eu
BUILD="build-essential pkg-config libsqlite3-dev libmicrohttpd-dev libcjson-dev
  libcurl4-openssl-dev libyaml-dev libprotobuf-c-dev protobuf-c-compiler
  libgnutls28-dev libarchive-dev libzstd-dev libssl-dev libnl-3-dev
  libnl-route-3-dev libnftnl-dev libmnl-dev zlib1g-dev libpq-dev libbpf-dev clang"
RUNTIME="ca-certificates iproute2 runc nftables tzdata"
# what the ClusterIP lab needs (examples/images/build.sh, examples/clusterip-lab.sh);
# build-essential is in BUILD
LAB="busybox-static curl dnsutils jq bash"
TEST="check curl python3 jq etcd-server etcd-client tmux zsh busybox-static docker-registry skopeo umoci dnsutils zstd openssl sqlite3 bash vagrant clang libclang-rt-14-dev python3-kubernetes python3-websocket chromium nodejs npm postgresql-15 bpftool"
case "${1:-build}" in
  build) PKGS="$BUILD $RUNTIME $LAB" ;;
  test)  PKGS="$BUILD $RUNTIME $LAB $TEST" ;;
  bench) PKGS="$BUILD $RUNTIME $LAB $TEST wrk iptables dnsperf nsd linux-perf" ;;
  *) echo "usage: $0 [build|test|bench]" >&2; exit 2 ;;
esac
missing=""
for p in $PKGS; do
  # npm: a Node.js from another source (nodesource's nodejs) carries its own
  [ "$p" = npm ] && command -v npm >/dev/null 2>&1 && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# A second kubectl release for tests/e2e/kubectl_verbs.sh: Debian's kubernetes-client,
# unpacked to $OLD_KUBECTL_DIR (not installed: its /usr/bin/kubectl would replace the
# 1.32 one the tests use)
OLD_KUBECTL_DIR=/opt/minik8s/kubernetes-client
old_kubectl() {
  [ -x "$OLD_KUBECTL_DIR/usr/bin/kubectl" ] && return 0
  d=$(mktemp -d /tmp/minik8s-deps.XXXXXX)
  (cd "$d" && chown _apt "$d" 2>/dev/null; apt-get download -qq kubernetes-client >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get download -qq kubernetes-client; }) &&
    mkdir -p "$OLD_KUBECTL_DIR" && dpkg-deb -x "$d"/kubernetes-client_*.deb "$OLD_KUBECTL_DIR"
  rc=$?
  rm -rf "$d"
  return $rc
}
case "${1:-build}" in test | bench)
  [ "$(id -u)" != 0 ] || old_kubectl ||
    echo "minik8s: could not unpack kubernetes-client to $OLD_KUBECTL_DIR (tests/e2e/kubectl_verbs.sh will say so)" >&2 ;;
esac
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
# etcd-server's package enables a system etcd on 127.0.0.1:2379; the tests start
# members of their own (tests/lib/etcd.sh, tests/unit/etcd), so it is stopped and disabled
case " $missing " in *" etcd-server "*)
  { command -v systemctl >/dev/null 2>&1 && systemctl disable --now etcd >/dev/null 2>&1; } || true ;;
esac
