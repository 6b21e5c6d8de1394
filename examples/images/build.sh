#!/bin/bash
# Builds the ClusterIP lab's two images offline, from Debian packages only, as image
# archives that `minik8s image import` and `docker load` accept (docker-save format;
# --format oci writes OCI image layout tarballs for skopeo, umoci, podman instead):
#
#   OUT/echo.tar     minik8s.local/echo:1     the echo app (examples/echo/echo-server.c,
#                                              static) on a busybox base
#   OUT/jumpbox.tar  minik8s.local/jumpbox:1  an "nginx-like" jumpbox: busybox httpd
#                                              serving a welcome page on :80 by default,
#                                              with the host's curl, dig and bash inside
#
# Both share the same busybox base layer. Builds are reproducible (sorted tar, mtime 0,
# uid/gid 0, gzip -n): the same host packages give byte-identical archives, so running
# it again changes nothing (an archive is only replaced when its content differs).
#
# Usage: examples/images/build.sh [--out DIR] [--format docker|oci]
#        (default: examples/images/out, docker)
# Then:  minik8s image import examples/images/out/*.tar
# Needs: cc (build-essential), busybox-static, curl, dnsutils (dig), bash, jq: what
# `sh scripts/deps.sh` (run by scripts/up.sh) installs.
# Image names can be changed with ECHO_IMAGE= and JUMPBOX_IMAGE=.
set -euo pipefail
export LC_ALL=C
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$HERE/out
ECHO_IMAGE=${ECHO_IMAGE:-minik8s.local/echo:1}
JUMPBOX_IMAGE=${JUMPBOX_IMAGE:-minik8s.local/jumpbox:1}
FORMAT=docker

die() { echo "build.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
	case $1 in
	--out) [ $# -ge 2 ] || die "--out needs a directory"; OUT=$2; shift 2 ;;
	--out=*) OUT=${1#--out=}; shift ;;
	--format) [ $# -ge 2 ] || die "--format needs docker or oci"; FORMAT=$2; shift 2 ;;
	--format=*) FORMAT=${1#--format=}; shift ;;
	-h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done
case $FORMAT in docker | oci) ;; *) die "--format must be docker or oci, not '$FORMAT'" ;; esac

# ---- what the build needs ----
need=""
for t in cc jq tar gzip sha256sum ldd curl dig bash; do command -v "$t" >/dev/null || need="$need $t"; done
[ -x /bin/busybox ] || need="$need busybox"
[ -z "$need" ] || die "missing:$need (as root: sh scripts/deps.sh, or apt-get install build-essential busybox-static curl dnsutils bash jq)"
if ldd /bin/busybox >/dev/null 2>&1; then
	die "/bin/busybox is dynamically linked: install busybox-static (apt-get install busybox-static)"
fi
CURL=$(command -v curl) DIG=$(command -v dig) BASH_BIN=$(command -v bash)
if command -v dpkg >/dev/null; then ARCH=$(dpkg --print-architecture); else
	case $(uname -m) in x86_64) ARCH=amd64 ;; aarch64) ARCH=arm64 ;; *) ARCH=$(uname -m) ;; esac
fi

W=$(mktemp -d /tmp/minik8s-images.XXXXXX)
trap 'rm -rf "$W"' EXIT

# ---- the OCI helpers of tests/lib/mkimage.sh (mktar sha size layout_init blob_add
# layer image), taken by name so that file stays the one definition ----
MKIMAGE=$ROOT/tests/lib/mkimage.sh
[ -r "$MKIMAGE" ] || die "cannot read $MKIMAGE (the OCI helpers live there)"
eval "$(awk 'BEGIN { split("mktar sha size layout_init blob_add layer image", a, " "); for (i in a) want[a[i]] = 1 }
	/^[a-z_]+\(\) *\{/ { n = $0; sub(/\(.*/, "", n); if (want[n]) grab = 1 }
	grab { print; if ($0 ~ /^\}/ || ($0 ~ /^[a-z_]+\(\) *\{/ && $0 ~ /\}$/)) grab = 0 }' "$MKIMAGE")"
for f in mktar sha size layout_init blob_add layer image; do
	declare -F "$f" >/dev/null || die "function $f not found in $MKIMAGE"
done

# ---- base layer: busybox (one relative symlink per applet), passwd, group, nsswitch ----
B=$W/base
mkdir -p "$B/bin" "$B/sbin" "$B/usr/bin" "$B/usr/sbin" "$B/usr/local/bin" "$B/etc" "$B/tmp" "$B/root" \
	"$B/proc" "$B/sys" "$B/dev" "$B/run" "$B/var/tmp"
chmod 1777 "$B/tmp" "$B/var/tmp"
chmod 0700 "$B/root"
cp /bin/busybox "$B/bin/busybox"
for a in $(/bin/busybox --list-full); do
	case $a in
	bin/busybox) ;;
	bin/*) ln -sf busybox "$B/$a" ;;
	sbin/*) ln -sf ../bin/busybox "$B/$a" ;;
	usr/*/*) ln -sf ../../bin/busybox "$B/$a" ;;
	esac
done
cat >"$B/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat >"$B/etc/group" <<'G'
root:x:0:
www-data:x:33:
nogroup:x:65534:
G
cat >"$B/etc/nsswitch.conf" <<'N'
passwd:   files
group:    files
hosts:    files dns
networks: files
services: files
N

# ---- echo: the static echo-server ----
E=$W/echo
mkdir -p "$E/usr/local/bin"
cc -static -O2 -std=gnu11 -Wall -Wextra -Werror -ffile-prefix-map="$ROOT"=. \
	-o "$E/usr/local/bin/echo-server" "$ROOT/examples/echo/echo-server.c" ||
	die "compiling examples/echo/echo-server.c failed (static glibc: apt-get install build-essential)"
strip "$E/usr/local/bin/echo-server" 2>/dev/null || true

# ---- jumpbox: curl, dig, bash with every library they load ----
J=$W/jumpbox
mkdir -p "$J/usr/bin" "$J/bin" "$J/usr/local/bin" "$J/usr/share/nginx/html" "$J/var/www"
cp "$CURL" "$J/usr/bin/curl"
cp "$DIG" "$J/usr/bin/dig"
cp "$BASH_BIN" "$J/bin/bash"
ln -s ../../bin/bash "$J/usr/bin/bash"
# copy FILE to the same path inside the jumpbox layer (following symlinks)
put() { mkdir -p "$J$(dirname "$1")"; cp -L "$1" "$J$1"; }
libs() { ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'; }
LIBC=""
for bin in "$CURL" "$DIG" "$BASH_BIN"; do
	for l in $(libs "$bin"); do
		put "$l"
		case $l in */libc.so.*) LIBC=$l ;; esac
	done
done
[ -n "$LIBC" ] || die "ldd did not list libc for $CURL"
# what glibc dlopens at run time: NSS modules (hosts: files dns), libresolv, and
# libgcc_s (thread cancellation and unwinding)
for l in libnss_files.so.2 libnss_dns.so.2 libresolv.so.2 libgcc_s.so.1; do
	[ -e "$(dirname "$LIBC")/$l" ] && put "$(dirname "$LIBC")/$l"
done
cat >"$J/usr/share/nginx/html/index.html" <<'H'
<!DOCTYPE html>
<html>
<head><title>Welcome to nginx!</title></head>
<body>
<h1>Welcome to nginx!</h1>
<p>Well, almost: this is the minik8s jumpbox, busybox httpd answering on port 80 in
place of nginx. Inside it you have curl, dig and bash to look at the cluster from
within, for example:</p>
<pre>curl php-echo.demo.svc.cluster.local
dig +short php-echo.demo.svc.cluster.local</pre>
</body>
</html>
H
cat >"$J/usr/local/bin/jumpbox-httpd" <<'S'
#!/bin/sh
# The jumpbox's web server: busybox httpd on ${PORT:-80} in place of nginx.
# As PID 1 of its container a process has no default action for SIGTERM:
# trap it so the pod stops at once instead of after its grace period.
trap 'kill "$pid" 2>/dev/null; exit 0' TERM INT
httpd -f -p "${PORT:-80}" -h /usr/share/nginx/html &
pid=$!
wait "$pid"
S
chmod 0755 "$J/usr/local/bin/jumpbox-httpd"

# ---- the archives ----
# archive NAME REF CONFIG_JSON LAYER_DIRS...: OUT/NAME.tar, replaced only when it
# differs. oci: an OCI image layout (gzip layers, index.json naming REF in
# org.opencontainers.image.ref.name). docker: a docker-save archive as Docker 25+
# writes it (manifest.json with RepoTags and blobs/sha256/ paths, uncompressed layers).
archive() {
	local name=$1 ref=$2 cfg=$3 d=$W/img-$1 spec=() l comp=gzip
	shift 3
	[ "$FORMAT" = docker ] && comp=none
	for l in "$@"; do spec+=("$l:$comp"); done
	layout_init "$d"
	image "$d" "$ARCH" "$cfg" "${spec[@]}"
	if [ "$FORMAT" = oci ]; then
		jq -c -n --arg d "sha256:$M_DIGEST" --argjson s "$M_SIZE" --arg r "$ref" \
			'{schemaVersion:2,mediaType:"application/vnd.oci.image.index.v1+json",
			  manifests:[{mediaType:"application/vnd.oci.image.manifest.v1+json",digest:$d,size:$s,
			  annotations:{"org.opencontainers.image.ref.name":$r}}]}' >"$d/index.json"
	else
		jq -c --arg r "$ref" '[{Config:("blobs/sha256/" + (.config.digest | ltrimstr("sha256:"))),
			RepoTags:[$r], Layers:[.layers[].digest | "blobs/sha256/" + ltrimstr("sha256:")]}]' \
			"$d/blobs/sha256/$M_DIGEST" >"$d/manifest.json"
		rm -f "$d/oci-layout" "$d/blobs/sha256/$M_DIGEST"
	fi
	mktar "$d" "$W/$name.tar"
	mkdir -p "$OUT"
	if cmp -s "$W/$name.tar.raw" "$OUT/$name.tar"; then
		echo "$OUT/$name.tar  $ref  ($FORMAT, config sha256:$C_DIGEST, unchanged)"
	else
		mv "$W/$name.tar.raw" "$OUT/$name.tar.tmp"
		mv "$OUT/$name.tar.tmp" "$OUT/$name.tar"
		echo "$OUT/$name.tar  $ref  ($FORMAT, config sha256:$C_DIGEST)"
	fi
}
PATH_ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
archive echo "$ECHO_IMAGE" "$(jq -c -n --arg p "$PATH_ENV" '{Env:[$p,"PORT=80"],Cmd:["/usr/local/bin/echo-server"],
	ExposedPorts:{"80/tcp":{}},WorkingDir:"/",StopSignal:"SIGTERM",
	Labels:{"org.opencontainers.image.title":"minik8s lab echo server"}}')" "$B" "$E"
archive jumpbox "$JUMPBOX_IMAGE" "$(jq -c -n --arg p "$PATH_ENV" '{Env:[$p],Cmd:["/usr/local/bin/jumpbox-httpd"],
	ExposedPorts:{"80/tcp":{}},WorkingDir:"/root",StopSignal:"SIGTERM",
	Labels:{"org.opencontainers.image.title":"minik8s lab jumpbox (httpd, curl, dig, bash)"}}')" "$B" "$J"
