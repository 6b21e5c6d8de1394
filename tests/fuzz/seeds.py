#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses that are generated rather than
copied: corpus-request (fuzz_request.c), corpus-ws (fuzz_ws.c), corpus-unpack
(fuzz_unpack.c) and corpus-yaml (fuzz_yaml.c; plus the YAML manifests of
examples/ and tests/e2e/data). corpus-protobuf holds the request bodies of
tests/unit/api/data; corpus-dns is hand-made. Run from anywhere; rewrites the files."""
import io, json, os, shutil, struct, tarfile, gzip

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def out(corpus, name, data):
    d = os.path.join(HERE, "corpus-" + corpus)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- fuzz_request: byte 0 = resource index (low nibble) | op << 4 ----
# resources in mk_api_resources order; ops: 0 create, 1 protobuf create, 2 update,
# 3 merge patch, 4 JSON patch, 5 strategic merge patch
RES = ["namespaces", "pods", "services", "endpoints", "nodes", "events", "deployments",
       "replicasets"]
pod = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "web", "labels": {"app": "web"}, "annotations": {"a/b": "c"}},
       "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "command": ["sh", "-c", "sleep 1"],
                                "ports": [{"containerPort": 80, "name": "http"}],
                                "env": [{"name": "A", "value": "1"}],
                                "readinessProbe": {"httpGet": {"path": "/", "port": 80}}}],
                "restartPolicy": "Never"}}
svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
       "spec": {"type": "NodePort", "selector": {"app": "web"},
                "ports": [{"name": "http", "port": 80, "targetPort": "http", "nodePort": 30080}]}}
dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
       "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
                "template": {"metadata": {"labels": {"app": "web", "tier": "a"}},
                             "spec": pod["spec"]}}}
ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo", "generateName": "d-"}}
ep = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"},
      "subsets": [{"addresses": [{"ip": "10.244.0.5", "targetRef": {"kind": "Pod", "name": "p"}}],
                   "ports": [{"port": 80, "protocol": "TCP"}]}]}
node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
        "spec": {"podCIDR": "10.244.1.0/24", "taints": [{"key": "k", "effect": "NoSchedule"}]}}
ev = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1"},
      "involvedObject": {"kind": "Pod", "name": "web"}, "reason": "Started", "type": "Normal"}
bodies = {"namespaces": ns, "pods": pod, "services": svc, "endpoints": ep, "nodes": node,
          "events": ev, "deployments": dep, "replicasets": dict(dep, kind="ReplicaSet")}
for i, r in enumerate(RES):
    b = json.dumps(bodies[r], separators=(",", ":"))
    out("request", f"create-{r}", bytes([i]) + b.encode())
    out("request", f"update-{r}", bytes([0x20 | i]) + b.encode())
out("request", "create-bad-pod", bytes([1]) + json.dumps(
    {"metadata": {"name": "Bad_Name", "labels": {"-x": "y" * 70}},
     "spec": {"containers": [{"name": "c"}, {"name": "c", "image": "x", "ports": [{"containerPort": 70000}]}]}}).encode())
out("request", "merge-pod", bytes([0x31]) + b'{"metadata":{"labels":{"app":null,"x":"y"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}')
out("request", "jsonpatch-pod", bytes([0x41]) + json.dumps([
    {"op": "add", "path": "/metadata/labels/x", "value": "y"},
    {"op": "replace", "path": "/spec/containers/0/image", "value": "nginx"},
    {"op": "test", "path": "/metadata/name", "value": "web"},
    {"op": "move", "from": "/metadata/labels/x", "path": "/metadata/labels/z~1a"},
    {"op": "copy", "from": "/spec/containers/0", "path": "/spec/containers/-"},
    {"op": "remove", "path": "/spec/containers/1"}]).encode())
out("request", "strategic-pod", bytes([0x51]) + json.dumps(
    {"spec": {"$setElementOrder/containers": [{"name": "c"}],
              "containers": [{"name": "c", "image": "nginx", "env": [{"name": "A", "$patch": "delete"}],
                              "ports": [{"containerPort": 81}]}]},
     "metadata": {"$deleteFromPrimitiveList/finalizers": ["x"], "labels": {"$patch": "replace", "a": "b"}}}).encode())
out("request", "strategic-deploy", bytes([0x56]) + b'{"spec":{"replicas":5,"template":{"spec":{"containers":[{"name":"c","$patch":"replace","image":"x"}]}},"$retainKeys":["replicas"]}}')
out("request", "scale-svc", bytes([0x52]) + b'{"spec":{"ports":[{"port":80,"$patch":"delete"},{"port":443}]}}')
pbdir = os.path.join(ROOT, "tests/unit/api/data")
for i, f in enumerate(sorted(os.listdir(pbdir))):
    if f.endswith(".pb"):
        with open(os.path.join(pbdir, f), "rb") as fh:
            data = fh.read()
        out("protobuf", f, data)
        out("request", "pb-" + f, bytes([0x10 | (i % 8)]) + data)

# ---- fuzz_ws: byte 0 = mask rule (% 3: 0 server, 1 client, 2 either) | limit << 2 ----
def frame(op, payload, mask=None, fin=True):
    h = bytes([(0x80 if fin else 0) | op])
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        h += bytes([m | n])
    elif n < 65536:
        h += bytes([m | 126]) + struct.pack(">H", n)
    else:
        h += bytes([m | 127]) + struct.pack(">Q", n)
    if mask:
        h += mask
        payload = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
    return h + payload

k = b"\x01\x02\x03\x04"
out("ws", "client-stdin", b"\x02" + frame(2, b"\x00ls -l\n", k) + frame(2, b"\x04" + b'{"Width":80,"Height":24}', k))
out("ws", "server-out", b"\x01"[:0] + b"\x00" + frame(2, b"\x01hello\n") + frame(2, b"\x02err\n") +
    frame(2, b"\x03" + b'{"metadata":{},"status":"Success"}') + frame(8, b"\x03\xe8"))
out("ws", "fragmented", b"\x02" + frame(1, b"abc", k, fin=False) + frame(0, b"def", k) + frame(9, b"ping", k))
out("ws", "len126", b"\x00" + frame(2, b"\x01" + b"x" * 300))
# the 64-bit length form, here non-minimal (a 200-byte payload) to stay under max_len
out("ws", "len127", b"\x00" + bytes([0x82, 127]) + struct.pack(">Q", 200) + b"\x01" + b"y" * 199)
out("ws", "header", b"\x02Upgrade, keep-alive, v5.channel.k8s.io,  v4.channel.k8s.io ")

# ---- fuzz_unpack: layer tars ----
def tar(entries, compress=None):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            ti = tarfile.TarInfo(e["name"])
            ti.type = e.get("type", tarfile.REGTYPE)
            ti.mode = e.get("mode", 0o644)
            ti.uid, ti.gid = e.get("uid", 0), e.get("gid", 0)
            ti.mtime = 1700000000
            ti.linkname = e.get("link", "")
            if "xattrs" in e:
                ti.pax_headers = {"SCHILY.xattr." + k: v for k, v in e["xattrs"].items()}
            data = e.get("data", b"")
            ti.size = len(data) if ti.type == tarfile.REGTYPE else 0
            t.addfile(ti, io.BytesIO(data) if ti.size else None)
    raw = bio.getvalue()
    if compress == "gz":
        return gzip.compress(raw, mtime=0)
    return raw

D, S, L, C = tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE
out("unpack", "basic", tar([{"name": "etc/", "type": D, "mode": 0o755},
                            {"name": "etc/hostname", "data": b"box\n"},
                            {"name": "bin/sh", "data": b"#!x", "mode": 0o755, "uid": 1000},
                            {"name": "bin/ash", "type": L, "link": "bin/sh"},
                            {"name": "lib", "type": S, "link": "/usr/lib"}]))
out("unpack", "whiteouts", tar([{"name": "a/.wh.b"}, {"name": "c/.wh..wh..opq"},
                                {"name": ".wh..wh.plnk"}, {"name": "c/d", "data": b"d"}]))
out("unpack", "escape", tar([{"name": "x", "type": S, "link": "../../.."},
                             {"name": "x/canary", "data": b"overwritten"},
                             {"name": "y", "type": S, "link": "/"},
                             {"name": "y/etc/z", "data": b"z"},
                             {"name": "../outside", "data": b"no"}]))
out("unpack", "hardlink-escape", tar([{"name": "h", "type": L, "link": "../canary"}]))
out("unpack", "replace", tar([{"name": "p", "type": D}, {"name": "p/q", "data": b"1"},
                              {"name": "p", "data": b"file now"}, {"name": "p", "type": S, "link": "p"},
                              {"name": "dev/null", "type": C, "mode": 0o666},
                              {"name": "f", "data": b"x", "xattrs": {"user.k": "v", "trusted.overlay.opaque": "y"}}]))
out("unpack", "gzip", tar([{"name": "g/h", "data": b"hello" * 20}], "gz"))

# ---- fuzz_yaml ----
out("yaml", "anchors", "base: &b {a: 1, b: [x, y]}\nderived:\n  <<: *b\n  c: *b\nlist:\n- &i 1\n- *i\n")
out("yaml", "scalars", "a: ~\nb: null\nc: True\nd: 0x1F\ne: 0o17\nf: .inf\ng: -.Inf\nh: .nan\n"
    "i: 1e3\nj: '007'\nk: \"esc\\t\\u00e9\"\nl: !!str 12\nm: |\n  lit\n  block\nn: >-\n  folded\n  text\n"
    "o: 2024-01-01\np: \"\"\nq: - x\n")
out("yaml", "multi", "---\nkind: A\n---\n# comment only\n---\n[1, 2, {x: y}]\n...\n---\n\"str\"\n")
out("yaml", "json", '{"apiVersion":"v1","kind":"List","items":[{"a":[1,2.5,-3e-2,true,null]}]}')
for d in ("examples", "tests/e2e/data"):
    for f in sorted(os.listdir(os.path.join(ROOT, d))):
        p = os.path.join(ROOT, d, f)
        if f.endswith(".yaml") and os.path.getsize(p) <= 4096:
            shutil.copy(p, os.path.join(HERE, "corpus-yaml", f))
