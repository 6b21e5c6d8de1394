#!/bin/bash
# Image store end to end: a real registry (Debian's docker-registry) on
# 127.0.0.1, images built offline by tests/lib/mkimage.sh and pushed with skopeo,
# pulled with `minik8s image pull` (plain HTTP via a registries config, a mirror,
# and a bearer-token front end that redirects blobs), digests, platform pick,
# whiteouts through an overlay rootfs, escape fixtures, corrupted blobs, imports,
# ls/rm and garbage collection.
. "$(dirname "$0")/../lib/lib.sh"
M=${MINIK8S_BIN:-$MINIK8S}
for tool in docker-registry skopeo jq python3 zstd; do
	command -v $tool >/dev/null || { fail "prerequisites" "$tool not installed (scripts/deps.sh test)"; exit 1; }
done

IMG=$T/img OUTSIDE=$T/outside DATA=$T/data
mkdir -p "$OUTSIDE"
echo "top secret" >"$OUTSIDE/secret"
"$ROOT/tests/lib/mkimage.sh" "$IMG" "$OUTSIDE" || { fail "mkimage" "fixture build failed"; exit 1; }
. "$IMG/digests.env"
img() { "$M" image --data-dir "$DATA" "$@"; }

# ---- registry ----
PORT=$(free_port)
REG=127.0.0.1:$PORT
cat >"$T/registry.yml" <<YML
version: 0.1
log: { level: error }
storage:
  filesystem: { rootdirectory: $T/regdata }
  delete: { enabled: true }
http:
  addr: $REG
  secret: minik8s-test-secret
YML
docker-registry serve "$T/registry.yml" >"$T/registry.log" 2>&1 &
_PIDS+=($!)
for _ in $(seq 100); do curl -sf "http://$REG/v2/" >/dev/null && break; sleep 0.1; done
check "registry up" curl -sf -o /dev/null "http://$REG/v2/"

push() { skopeo copy -q ${3:-} --preserve-digests --dest-tls-verify=false "oci:$IMG/oci/$1:latest" "docker://$REG/$2" >>"$T/skopeo.log" 2>&1; }
for n in busybox whiteout zstd escape escape2 hardlink hardlink2 corrupt; do
	push $n test/$n:1 || fail "push $n" "$(tail -3 "$T/skopeo.log")"
done
push multi test/multi:1 --all || fail "push multi" "$(tail -3 "$T/skopeo.log")"

cat >"$T/registries.yaml" <<YML
mirrors:
  mirror.invalid:
    endpoint:
      - "http://$REG"
configs:
  "$REG":
    insecure: true
YML
pull() { img pull --registries "$T/registries.yaml" "$@"; }

# ---- plain pull, digests ----
out=$(pull "$REG/test/busybox:1" 2>&1)
expect_eq "pull busybox prints image id" "$out" "$REG/test/busybox:1 $BUSYBOX_CONFIG"
regdigest=$(curl -sI -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/test/busybox/manifests/1" |
	tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}')
expect_eq "registry kept the manifest digest" "$regdigest" "$BUSYBOX_MANIFEST"
expect_match "ls --digests shows the manifest digest" "$(img ls --digests)" "$REG/test/busybox +1 +$BUSYBOX_MANIFEST"
check "layer blob stored under its digest" test -f "$DATA/images/blobs/sha256/${BUSYBOX_LAYER#sha256:}"
check "layer unpacked under its diff id" test -x "$DATA/images/layers/sha256/${BUSYBOX_DIFF#sha256:}/bin/busybox"
echo "$(sha256sum "$DATA/images/blobs/sha256/${BUSYBOX_LAYER#sha256:}" | cut -d' ' -f1)" >"$T/h"
expect_eq "stored blob hashes to its name" "sha256:$(cat "$T/h")" "$BUSYBOX_LAYER"
expect_match "ls columns" "$(img ls | head -1)" "^REPOSITORY +TAG +IMAGE-ID +SIZE"
expect_match "ls row" "$(img ls)" "$REG/test/busybox +1 +${BUSYBOX_CONFIG:7:12} +1\.[0-9]+MB"
cfg=$(img inspect "$REG/test/busybox:1")
expect_eq "config entrypoint" "$(jq -c .entrypoint <<<"$cfg")" '["/bin/sh","-c"]'
expect_eq "config cmd/workdir/ports" "$(jq -c '[.cmd,.workingDir,.exposedPorts,.user]' <<<"$cfg")" '[["echo hi"],"/root",["80/tcp"],"0:0"]'

out=$(pull "$REG/test/busybox@$BUSYBOX_MANIFEST" 2>&1)
expect_eq "pull by digest" "$out" "$REG/test/busybox@$BUSYBOX_MANIFEST $BUSYBOX_CONFIG"
if pull "$REG/test/busybox@sha256:$(printf '0%.0s' $(seq 64))" >"$T/o" 2>&1; then
	fail "pull of an unknown digest fails"
else pass "pull of an unknown digest fails"; fi
out=$(pull "mirror.invalid/test/busybox:1" 2>&1)
expect_eq "pull through a mirror" "$out" "mirror.invalid/test/busybox:1 $BUSYBOX_CONFIG"
if img pull "$REG/test/busybox:1" >"$T/o" 2>&1; then
	fail "https to a plain-HTTP registry fails without config"
else pass "https to a plain-HTTP registry fails without config"; fi

# ---- platform pick from an index ----
out=$(pull "$REG/test/multi:1" 2>&1)
expect_eq "index: host platform (amd64) picked" "$out" "$REG/test/multi:1 $MULTI_AMD_CONFIG"
C=$T/c1
img mount "$REG/test/multi:1" "$C" >/dev/null && expect_eq "amd64 layer content" "$(cat "$C/rootfs/etc/arch")" amd64
img unmount --remove "$C"
out=$(pull --platform linux/arm64 "$REG/test/multi:1" 2>&1)
expect_eq "index: --platform linux/arm64 picked" "$out" "$REG/test/multi:1 $MULTI_ARM_CONFIG"
img mount "$REG/test/multi:1" "$C" >/dev/null && expect_eq "arm64 layer content" "$(cat "$C/rootfs/etc/arch")" arm64
img unmount --remove "$C"
if pull --platform linux/s390x "$REG/test/multi:1" >"$T/o" 2>&1; then fail "missing platform fails"
else expect_match "missing platform fails" "$(cat "$T/o")" "no manifest for platform linux/s390x"; fi

# ---- whiteouts through the overlay rootfs ----
pull "$REG/test/whiteout:1" >/dev/null 2>"$T/o" || fail "pull whiteout" "$(cat "$T/o")"
img mount "$REG/test/whiteout:1" "$C" >/dev/null
check "overlay rootfs mounted" mountpoint -q "$C/rootfs"
expect_eq "whiteouts and opaque dir honoured" "$(cd "$C/rootfs/data" && find . | sort | tr '\n' ' ')" \
	". ./c ./dir ./dir/x ./opq ./opq/new1 "
expect_eq "read a file through the overlay" "$(cat "$C/rootfs/etc/motd")" "hello from the busybox image"
echo written >"$C/rootfs/data/new"
check "writes land in the container's upper dir" test -f "$C/upper/data/new"
img unmount "$C"
if mountpoint -q "$C/rootfs"; then fail "unmount"; else pass "unmount"; fi

# ---- zstd layer (fresh store: the same diff id is already unpacked in $DATA) ----
DATA4=$T/data4
if "$M" image --data-dir "$DATA4" pull --registries "$T/registries.yaml" "$REG/test/zstd:1" >"$T/o" 2>&1; then
	check "zstd layer stored" test -f "$DATA4/images/blobs/sha256/${ZSTD_LAYER#sha256:}"
	"$M" image --data-dir "$DATA4" mount "$REG/test/zstd:1" "$C" >/dev/null &&
		expect_eq "zstd layer unpacked (diff id verified)" "$(cat "$C/rootfs/etc/motd")" "hello from the busybox image"
	"$M" image --data-dir "$DATA4" unmount --remove "$C"
else fail "pull zstd" "$(cat "$T/o")"; fi

# ---- escapes ----
pull "$REG/test/escape:1" >"$T/o" 2>&1 || fail "pull escape" "$(cat "$T/o")"
img mount "$REG/test/escape:1" "$C" >/dev/null
expect_eq "cross-layer symlink escape contained" "$(cat "$C/rootfs/escape/file" 2>&1)" "pwned-by-escape"
expect_eq "absolute and dot-dot symlinks resolve in the root" "$(cat "$C/rootfs/file2" "$C/rootfs/file3" 2>&1 | tr '\n' ' ')" "via-abs-root via-dotdot "
img unmount --remove "$C"
if pull "$REG/test/escape2:1" >"$T/o" 2>&1; then pass "same-layer escape pulled (contained)"
else expect_match "same-layer escape refused" "$(cat "$T/o")" "esc/file"; fi
for h in hardlink hardlink2; do
	if pull "$REG/test/$h:1" >"$T/o" 2>&1; then fail "$h to outside refused" "pull succeeded"
	else pass "$h to outside refused"; fi
done
expect_eq "nothing written outside" "$(cd "$OUTSIDE" && find . | sort | tr '\n' ' ')" ". ./secret "
expect_eq "outside file untouched" "$(stat -c %h "$OUTSIDE/secret"):$(cat "$OUTSIDE/secret")" "1:top secret"
expect_eq "failed layers leave no temp files" "$(ls -A "$DATA/images/tmp")" ""

# ---- corrupted blob in the registry ----
h=${CORRUPT_LAYER#sha256:}
blob=$T/regdata/docker/registry/v2/blobs/sha256/${h:0:2}/$h/data
if [ -f "$blob" ]; then
	python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2]^=0xff; open(p,"wb").write(b)' "$blob"
	if pull "$REG/test/corrupt:1" >"$T/o" 2>&1; then fail "corrupted blob rejected" "pull succeeded"
	else expect_match "corrupted blob rejected" "$(cat "$T/o")" "digest mismatch"; fi
	check "corrupted blob not stored" test ! -e "$DATA/images/blobs/sha256/$h"
	if img inspect "$REG/test/corrupt:1" >/dev/null 2>&1; then fail "corrupted image not recorded"
	else pass "corrupted image not recorded"; fi
else fail "corrupt fixture" "registry blob $blob not found"; fi

# ---- bearer-token front end with blob redirects (Docker Hub's flow) ----
APORT=$(free_port)
python3 - "$APORT" "$REG" >"$T/auth.log" 2>&1 <<'PY' &
import http.server, json, sys, urllib.request
port, reg = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        if self.path.startswith("/token?"):
            body = json.dumps({"token": "tkn-123", "expires_in": 60}).encode()
            self.send_response(200); self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body); return
        if self.headers.get("Authorization") != "Bearer tkn-123":
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Bearer realm="http://127.0.0.1:%d/token",service="test-registry",scope="repository:test/busybox:pull"' % port)
            self.send_header("Content-Length", "0"); self.end_headers(); return
        if "/blobs/" in self.path:   # like Docker Hub: redirect to the "CDN"
            self.send_response(307); self.send_header("Location", "http://%s%s" % (reg, self.path))
            self.send_header("Content-Length", "0"); self.end_headers(); return
        req = urllib.request.Request("http://%s%s" % (reg, self.path), headers={"Accept": self.headers.get("Accept", "")})
        try:
            r = urllib.request.urlopen(req); body = r.read(); code = r.status; hdr = r.headers
        except urllib.error.HTTPError as e:
            body = e.read(); code = e.code; hdr = e.headers
        self.send_response(code)
        for k in ("Content-Type", "Docker-Content-Digest"):
            if hdr.get(k): self.send_header(k, hdr.get(k))
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
_PIDS+=($!)
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$APORT/v2/" && break; sleep 0.1; done
printf 'configs:\n  "127.0.0.1:%s":\n    insecure: true\n' "$APORT" >"$T/auth.yaml"
DATA2=$T/data2
out=$("$M" image --data-dir "$DATA2" pull --registries "$T/auth.yaml" "127.0.0.1:$APORT/test/busybox:1" 2>&1)
expect_eq "pull with bearer token and blob redirects" "$out" "127.0.0.1:$APORT/test/busybox:1 $BUSYBOX_CONFIG"

# ---- concurrent pulls of one image ----
DATA3=$T/data3
"$M" image --data-dir "$DATA3" pull --registries "$T/registries.yaml" "$REG/test/multi:1" >"$T/p1" 2>&1 & p1=$!
"$M" image --data-dir "$DATA3" pull --registries "$T/registries.yaml" "$REG/test/multi:1" >"$T/p2" 2>&1 & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
expect_eq "concurrent pulls of one image" "$r1$r2:$(ls "$DATA3/images/layers/sha256" | wc -l)" "00:2"

# ---- imports ----
out=$(img import --name import/oci "$IMG/busybox-oci.tar" 2>&1)
expect_eq "import OCI layout tarball" "$out" "docker.io/import/oci:latest"
out=$(img import "$IMG/busybox-save.tar" 2>&1)
expect_eq "import docker-save archive" "$out" "docker.io/library/busybox-save:1"
expect_eq "docker-save image id is its config digest" "$(img inspect busybox-save:1 | jq -r .id)" "$SAVE_CONFIG"
if img import "$IMG/oci/busybox" >"$T/o" 2>&1; then fail "bare-tag layout needs a name"
else pass "bare-tag layout needs a name"; fi
mkdir -p "$T/autoimport"; cp "$IMG/busybox-save.tar" "$T/autoimport/a.tar"
expect_eq "import --dir imports new archives" "$(img import --dir "$T/autoimport")" "imported 1 archive(s)"
expect_eq "import --dir skips known archives" "$(img import --dir "$T/autoimport")" "imported 0 archive(s)"
img mount busybox-save:1 "$C" >/dev/null && expect_eq "imported image mounts" "$(cat "$C/rootfs/etc/motd")" "hello from the busybox image"
img unmount --remove "$C"

# ---- rm and garbage collection ----
img rm "$REG/test/busybox:1" >/dev/null
if img ls | grep -q "$REG/test/busybox  *1 "; then fail "rm removes the name"; else pass "rm removes the name"; fi
check "shared layer kept while other names use it" test -d "$DATA/images/layers/sha256/${BUSYBOX_DIFF#sha256:}"
if img rm no/such:image >"$T/o" 2>&1; then fail "rm of an unknown image fails"; else pass "rm of an unknown image fails"; fi
img ls -q | sort -u | while read -r id; do img rm "$id" >/dev/null; done
expect_eq "rm by id empties the store" "$(img ls -q | wc -l):$(ls "$DATA/images/layers/sha256" | wc -l):$(ls "$DATA/images/blobs/sha256" | wc -l)" "0:0:0"
done_testing
