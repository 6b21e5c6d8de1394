#!/bin/bash
# Builds a minimal busybox root filesystem directory offline (no downloads) from
# Debian's busybox-static: /bin/busybox plus one relative symlink per applet
# (bin/sh -> busybox, usr/bin/env -> ../../bin/busybox, ...), /etc/passwd,
# /etc/group, and empty mount points (proc, sys, dev, tmp, run, etc/...).
# Usage: mkrootfs.sh DIR   (DIR is created; it must not exist or be empty)
set -euo pipefail
DIR=${1:?usage: mkrootfs.sh DIR}
BB=${BUSYBOX:-/bin/busybox}
[ -x "$BB" ] || { echo "mkrootfs: $BB missing (apt-get install busybox-static)" >&2; exit 1; }
mkdir -p "$DIR"
[ -z "$(ls -A "$DIR")" ] || { echo "mkrootfs: $DIR is not empty" >&2; exit 1; }
cd "$DIR"
mkdir -p bin sbin usr/bin usr/sbin etc proc sys dev tmp run root home var/tmp
chmod 1777 tmp var/tmp
chmod 0700 root
cp "$BB" bin/busybox
chmod 0755 bin/busybox
# --list-full prints paths like "bin/sh", "usr/bin/env"; fall back to --list into bin/
if list=$(bin/busybox --list-full 2>/dev/null) && [ -n "$list" ]; then
	while read -r p; do
		[ -n "$p" ] && [ "$p" != bin/busybox ] || continue
		d=$(dirname "$p")
		mkdir -p "$d"
		# relative link back to /bin/busybox: one "../" per path component of d
		if [ "$d" = bin ]; then t=busybox; else t=$(sed -E 's#[^/]+#..#g' <<<"$d")/bin/busybox; fi
		[ -e "$p" ] || [ -L "$p" ] || ln -s "$t" "$p"
	done <<<"$list"
else
	for a in $(bin/busybox --list); do
		[ "$a" = busybox ] || [ -e "bin/$a" ] || ln -s busybox "bin/$a"
	done
fi
cat >etc/passwd <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat >etc/group <<'G'
root:x:0:
daemon:x:1:
tty:x:5:
nogroup:x:65534:
G
touch etc/hosts etc/resolv.conf etc/hostname
