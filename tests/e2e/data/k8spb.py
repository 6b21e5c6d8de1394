#!/usr/bin/env python3
"""Writes a Kubernetes protobuf request body to stdout, as kubectl >= 1.32 sends it:
magic b"k8s\\0" + runtime.Unknown{1 typeMeta{1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding,
4 contentType}. Field numbers from the upstream .proto files (see
/work/shared/reference/kubectl-wire.md). Zero values are sent explicitly, like Go does.

usage: k8spb.py namespace NAME
       k8spb.py deployment NAME NAMESPACE IMAGE REPLICAS PORT
       k8spb.py service NAME NAMESPACE PORT
"""
import sys


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_bytes(num, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data


def field_varint(num, value):
    return varint(num << 3) + varint(value)


def labels(num, d):
    return b"".join(field_bytes(num, field_bytes(1, k) + field_bytes(2, v)) for k, v in d.items())


def object_meta(name, namespace="", lbls=None):
    # name, generateName (empty), namespace, ... labels (11)
    return (field_bytes(1, name) + field_bytes(2, "") + field_bytes(3, namespace) +
            labels(11, lbls or {}))


def envelope(api_version, kind, raw):
    type_meta = field_bytes(1, api_version) + field_bytes(2, kind)
    unknown = field_bytes(1, type_meta) + field_bytes(2, raw) + field_bytes(3, "") + field_bytes(4, "")
    return b"k8s\x00" + unknown


def namespace(name):
    ns = field_bytes(1, object_meta(name)) + field_bytes(2, b"") + field_bytes(3, b"")
    return envelope("v1", "Namespace", ns)


def deployment(name, ns, image, replicas, port):
    lbl = {"app": name}
    container = (field_bytes(1, image.split("/")[-1].split(":")[0]) + field_bytes(2, image) +
                 field_bytes(6, field_varint(3, int(port))) + field_bytes(8, b""))
    pod_spec = field_bytes(2, container)
    template = field_bytes(1, object_meta("", "", lbl)) + field_bytes(2, pod_spec)
    selector = labels(1, lbl)
    spec = (field_varint(1, int(replicas)) + field_bytes(2, selector) + field_bytes(3, template) +
            field_bytes(4, b""))
    dep = field_bytes(1, object_meta(name, ns, lbl)) + field_bytes(2, spec) + field_bytes(3, b"")
    return envelope("apps/v1", "Deployment", dep)


def service(name, ns, port):
    # ServiceSpec{1 ports ServicePort{1 name, 2 protocol, 3 port, 4 targetPort IntOrString{1 type, 2 intVal}},
    #             2 selector map, 4 type}
    sport = (field_bytes(1, "") + field_bytes(2, "TCP") + field_varint(3, int(port)) +
             field_bytes(4, field_varint(1, 0) + field_varint(2, int(port))))
    spec = field_bytes(1, sport) + labels(2, {"app": name}) + field_bytes(4, "ClusterIP")
    svc = field_bytes(1, object_meta(name, ns, {"app": name})) + field_bytes(2, spec) + field_bytes(3, b"")
    return envelope("v1", "Service", svc)


def main(argv):
    if len(argv) >= 2 and argv[0] == "namespace":
        out = namespace(argv[1])
    elif len(argv) >= 6 and argv[0] == "deployment":
        out = deployment(*argv[1:6])
    elif len(argv) >= 4 and argv[0] == "service":
        out = service(*argv[1:4])
    else:
        sys.stderr.write(__doc__)
        return 2
    sys.stdout.buffer.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
