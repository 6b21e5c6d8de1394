#!/bin/bash
# Builds the image test fixtures offline (no downloads) into OUT:
#   OUT/oci/<name>/            OCI image layouts (index.json ref.name "latest"):
#     busybox    busybox-static rootfs, gzip layer, config with Cmd/Env/ExposedPorts
#     multi      image index: linux/amd64 (busybox + /etc/arch=amd64) and
#                linux/arm64 (a different layer: /etc/arch=arm64)
#     whiteout   3 layers: files, then .wh.a + an opaque dir, then .wh.b + a new file
#     escape     symlinks escape -> OUTSIDE_DIR and up -> ../../.. (layer 1) +
#                escape/file and up/file1 (layer 2), and in layer 2 esc2 -> / and
#                esc3 -> ../../.. with esc2/file2, esc3/file3 (all must stay inside)
#     escape2    one layer: esc -> OUTSIDE_DIR then esc/file (must fail or stay inside)
#     hardlink   a layer hard-linking OUTSIDE_DIR/secret by absolute path
#     hardlink2  the same by a ../ path
#     zstd       busybox rootfs as a tar+zstd layer
#     corrupt    a small unique image (the e2e damages its blob in the registry)
#   OUT/busybox-oci.tar        the busybox layout as a tarball
#   OUT/busybox-save.tar       docker-save archive (RepoTags busybox-save:1)
#   OUT/digests.env            shell assignments of the digests computed here
# Usage: mkimage.sh OUT OUTSIDE_DIR   (OUTSIDE_DIR: absolute path the escape
# fixtures target; must not be written by any unpack)
set -euo pipefail
OUT=$1
OUTSIDE=$2
export LC_ALL=C
mkdir -p "$OUT/oci" "$OUT/work"
W=$OUT/work

# reproducible gzip'd tar of directory $1 into $2 (uncompressed copy at $2.tar)
mktar() {
	tar -C "$1" --sort=name --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
		--mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$2.raw" .
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

# layout DIR: init an OCI layout
layout_init() { mkdir -p "$1/blobs/sha256"; echo '{"imageLayoutVersion":"1.0.0"}' >"$1/oci-layout"; }
# blob_add DIR FILE: copy FILE in as a blob, print its hex digest
blob_add() { local h; h=$(sha "$2"); cp "$2" "$1/blobs/sha256/$h"; echo "$h"; }

# layer DIR SRC COMPRESS(gzip|zstd|none): adds a layer; sets L_DIGEST L_SIZE L_DIFF L_MT
layer() {
	local dir=$1 src=$2 comp=${3:-gzip} raw f
	raw=$W/layer.$$.tar
	if [ -d "$src" ]; then mktar "$src" "$raw"; mv "$raw.raw" "$raw"; else cp "$src" "$raw"; fi
	L_DIFF=$(sha "$raw")
	case $comp in
	gzip) gzip -n -c "$raw" >"$raw.c"; L_MT=application/vnd.oci.image.layer.v1.tar+gzip ;;
	zstd) zstd -q -c "$raw" >"$raw.c"; L_MT=application/vnd.oci.image.layer.v1.tar+zstd ;;
	none) cp "$raw" "$raw.c"; L_MT=application/vnd.oci.image.layer.v1.tar ;;
	esac
	L_DIGEST=$(blob_add "$dir" "$raw.c")
	L_SIZE=$(size "$raw.c")
	rm -f "$raw" "$raw.c"
}

# image DIR ARCH CONFIG_EXTRA_JSON LAYER_SPECS... : writes config + manifest,
# sets M_DIGEST M_SIZE C_DIGEST. LAYER_SPECS are "src:comp".
image() {
	local dir=$1 arch=$2 extra=$3; shift 3
	local layers="[]" diffs="[]" spec
	for spec in "$@"; do
		layer "$dir" "${spec%%:*}" "${spec##*:}"
		layers=$(jq -c --arg d "sha256:$L_DIGEST" --argjson s "$L_SIZE" --arg m "$L_MT" \
			'. + [{mediaType:$m,digest:$d,size:$s}]' <<<"$layers")
		diffs=$(jq -c --arg d "sha256:$L_DIFF" '. + [$d]' <<<"$diffs")
	done
	jq -c -n --arg a "$arch" --argjson d "$diffs" --argjson x "$extra" \
		'{architecture:$a,os:"linux",created:"1970-01-01T00:00:00Z",
		  config:({Env:["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],Cmd:["sh"]} + $x),
		  rootfs:{type:"layers",diff_ids:$d}}' >"$W/config.json"
	C_DIGEST=$(blob_add "$dir" "$W/config.json")
	jq -c -n --arg c "sha256:$C_DIGEST" --argjson cs "$(size "$W/config.json")" --argjson l "$layers" \
		'{schemaVersion:2,mediaType:"application/vnd.oci.image.manifest.v1+json",
		  config:{mediaType:"application/vnd.oci.image.config.v1+json",digest:$c,size:$cs},layers:$l}' \
		>"$W/manifest.json"
	M_DIGEST=$(blob_add "$dir" "$W/manifest.json")
	M_SIZE=$(size "$W/manifest.json")
}

# index_json DIR MEDIATYPE DIGEST SIZE: top-level index.json naming it "latest"
index_json() {
	jq -c -n --arg m "$2" --arg d "sha256:$3" --argjson s "$4" \
		'{schemaVersion:2,manifests:[{mediaType:$m,digest:$d,size:$s,
		  annotations:{"org.opencontainers.image.ref.name":"latest"}}]}' >"$1/index.json"
}

# ---- busybox rootfs ----
R=$W/rootfs
rm -rf "$R"
mkdir -p "$R/bin" "$R/sbin" "$R/usr/bin" "$R/usr/sbin" "$R/etc" "$R/tmp" "$R/root" "$R/proc" "$R/sys" "$R/dev"
chmod 1777 "$R/tmp"
cp /bin/busybox "$R/bin/busybox"
for a in $(/bin/busybox --list-full); do
	case $a in
	bin/busybox) ;;
	bin/*) ln -sf busybox "$R/$a" ;;
	sbin/*) ln -sf ../bin/busybox "$R/$a" ;;
	usr/*/*) ln -sf ../../bin/busybox "$R/$a" ;;
	esac
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$R/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$R/etc/group"
echo "hello from the busybox image" >"$R/etc/motd"

# ---- busybox ----
D=$OUT/oci/busybox; layout_init "$D"
image "$D" amd64 '{"ExposedPorts":{"80/tcp":{}},"WorkingDir":"/root","User":"0:0","Entrypoint":["/bin/sh","-c"],"Cmd":["echo hi"]}' "$R:gzip"
index_json "$D" application/vnd.oci.image.manifest.v1+json "$M_DIGEST" "$M_SIZE"
BUSYBOX_MANIFEST=sha256:$M_DIGEST BUSYBOX_CONFIG=sha256:$C_DIGEST BUSYBOX_LAYER=sha256:$L_DIGEST BUSYBOX_DIFF=sha256:$L_DIFF
tar -C "$D" --sort=name -cf "$OUT/busybox-oci.tar" .

# ---- multi-platform index ----
D=$OUT/oci/multi; layout_init "$D"
mkdir -p "$W/amd/etc" "$W/arm/etc"; echo amd64 >"$W/amd/etc/arch"; echo arm64 >"$W/arm/etc/arch"
image "$D" amd64 '{}' "$R:gzip" "$W/amd:gzip"; AMD_M=$M_DIGEST AMD_S=$M_SIZE; MULTI_AMD_CONFIG=sha256:$C_DIGEST
image "$D" arm64 '{}' "$W/arm:gzip"; ARM_M=$M_DIGEST ARM_S=$M_SIZE; MULTI_ARM_CONFIG=sha256:$C_DIGEST
jq -c -n --arg a "sha256:$AMD_M" --argjson asz "$AMD_S" --arg b "sha256:$ARM_M" --argjson bs "$ARM_S" \
	'{schemaVersion:2,mediaType:"application/vnd.oci.image.index.v1+json",manifests:[
	  {mediaType:"application/vnd.oci.image.manifest.v1+json",digest:$a,size:$asz,platform:{os:"linux",architecture:"amd64"}},
	  {mediaType:"application/vnd.oci.image.manifest.v1+json",digest:$b,size:$bs,platform:{os:"linux",architecture:"arm64",variant:"v8"}}]}' \
	>"$W/index.json"
IDX=$(blob_add "$D" "$W/index.json")
index_json "$D" application/vnd.oci.image.index.v1+json "$IDX" "$(size "$W/index.json")"
MULTI_INDEX=sha256:$IDX

# ---- whiteouts ----
D=$OUT/oci/whiteout; layout_init "$D"
mkdir -p "$W/w1/data/dir" "$W/w1/data/opq/sub" "$W/w2/data/opq" "$W/w3/data"
echo a >"$W/w1/data/a"; echo b >"$W/w1/data/b"; echo x >"$W/w1/data/dir/x"
echo old >"$W/w1/data/opq/old1"; echo old >"$W/w1/data/opq/sub/old2"
: >"$W/w2/data/.wh.a"; : >"$W/w2/data/opq/.wh..wh..opq"; echo new >"$W/w2/data/opq/new1"
: >"$W/w3/data/.wh.b"; echo c >"$W/w3/data/c"
image "$D" amd64 '{}' "$R:gzip" "$W/w1:gzip" "$W/w2:gzip" "$W/w3:gzip"
index_json "$D" application/vnd.oci.image.manifest.v1+json "$M_DIGEST" "$M_SIZE"

# ---- escape fixtures (python's tarfile writes what GNU tar will not) ----
python3 - "$W" "$OUTSIDE" <<'PY'
import io, sys, tarfile
w, outside = sys.argv[1], sys.argv[2]
def mk(path, entries):
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        for kind, name, arg in entries:
            ti = tarfile.TarInfo(name); ti.mtime = 0
            if kind == "sym": ti.type = tarfile.SYMTYPE; ti.linkname = arg; t.addfile(ti)
            elif kind == "hard": ti.type = tarfile.LNKTYPE; ti.linkname = arg; t.addfile(ti)
            else:
                data = arg.encode(); ti.size = len(data); ti.mode = 0o644
                t.addfile(ti, io.BytesIO(data))
mk(w + "/esc1.tar", [("sym", "escape", outside), ("sym", "up", "../../../../../../../..")])
mk(w + "/esc2.tar", [("file", "escape/file", "pwned-by-escape\n"), ("file", "up/file1", "up\n"),
                     ("sym", "esc2", "/"), ("file", "esc2/file2", "via-abs-root\n"),
                     ("sym", "esc3", "../../../../../../.."), ("file", "esc3/file3", "via-dotdot\n")])
mk(w + "/escsame.tar", [("sym", "esc", outside), ("file", "esc/file", "pwned-same-layer\n")])
mk(w + "/hard1.tar", [("file", "ok", "fine\n"), ("hard", "hl", outside + "/secret")])
mk(w + "/hard2.tar", [("file", "ok", "fine\n"), ("hard", "hl", "../../../../../../.." + outside + "/secret")])
PY
D=$OUT/oci/escape; layout_init "$D"
image "$D" amd64 '{}' "$W/esc1.tar:gzip" "$W/esc2.tar:gzip"
index_json "$D" application/vnd.oci.image.manifest.v1+json "$M_DIGEST" "$M_SIZE"
D=$OUT/oci/escape2; layout_init "$D"
image "$D" amd64 '{}' "$W/escsame.tar:gzip"
index_json "$D" application/vnd.oci.image.manifest.v1+json "$M_DIGEST" "$M_SIZE"
D=$OUT/oci/hardlink; layout_init "$D"
image "$D" amd64 '{}' "$W/hard1.tar:gzip"
index_json "$D" application/vnd.oci.image.manifest.v1+json "$M_DIGEST" "$M_SIZE"
D=$OUT/oci/hardlink2; layout_init "$D"
image "$D" amd64 '{}' "$W/hard2.tar:gzip"
index_json "$D" application/vnd.oci.image.manifest.v1+json "$M_DIGEST" "$M_SIZE"

# ---- zstd ----
D=$OUT/oci/zstd; layout_init "$D"
image "$D" amd64 '{}' "$R:zstd"
index_json "$D" application/vnd.oci.image.manifest.v1+json "$M_DIGEST" "$M_SIZE"
ZSTD_LAYER=sha256:$L_DIGEST

# ---- corrupt: one unique small layer ----
D=$OUT/oci/corrupt; layout_init "$D"
mkdir -p "$W/cor"; head -c 4096 /dev/urandom >"$W/cor/random.bin"
image "$D" amd64 '{}' "$W/cor:gzip"
index_json "$D" application/vnd.oci.image.manifest.v1+json "$M_DIGEST" "$M_SIZE"
CORRUPT_LAYER=sha256:$L_DIGEST

# ---- docker save archive (uncompressed layer, Config/RepoTags/Layers) ----
S=$W/save; rm -rf "$S"; mkdir -p "$S/layer1"
mktar "$R" "$S/layer1/layer"; mv "$S/layer1/layer.raw" "$S/layer1/layer.tar"
DIFF=$(sha "$S/layer1/layer.tar")
jq -c -n --arg d "sha256:$DIFF" '{architecture:"amd64",os:"linux",config:{Cmd:["sh"],Env:["PATH=/bin"]},
	rootfs:{type:"layers",diff_ids:[$d]}}' >"$S/cfg.json"
CH=$(sha "$S/cfg.json"); mv "$S/cfg.json" "$S/$CH.json"
echo "[{\"Config\":\"$CH.json\",\"RepoTags\":[\"busybox-save:1\"],\"Layers\":[\"layer1/layer.tar\"]}]" >"$S/manifest.json"
tar -C "$S" --sort=name -cf "$OUT/busybox-save.tar" manifest.json "$CH.json" layer1
SAVE_CONFIG=sha256:$CH

rm -rf "$W"
cat >"$OUT/digests.env" <<ENV
BUSYBOX_MANIFEST=$BUSYBOX_MANIFEST
BUSYBOX_CONFIG=$BUSYBOX_CONFIG
BUSYBOX_LAYER=$BUSYBOX_LAYER
BUSYBOX_DIFF=$BUSYBOX_DIFF
MULTI_INDEX=$MULTI_INDEX
MULTI_AMD_CONFIG=$MULTI_AMD_CONFIG
MULTI_ARM_CONFIG=$MULTI_ARM_CONFIG
ZSTD_LAYER=$ZSTD_LAYER
CORRUPT_LAYER=$CORRUPT_LAYER
SAVE_CONFIG=$SAVE_CONFIG
ENV
