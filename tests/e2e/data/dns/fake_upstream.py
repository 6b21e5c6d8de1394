#!/usr/bin/env python3
"""Fake upstream resolver for the DNS e2e tests (loopback only).

Answers every A query with 192.0.2.7 (TTL 60), except names starting with
"slow." which it never answers. Appends each query name it receives to LOG.
Usage: fake_upstream.py PORTFILE LOG  (binds 127.0.0.1:0, writes the port)"""
import socket
import struct
import sys

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
log = open(sys.argv[2], "a", buffering=1)
while True:
    data, peer = s.recvfrom(4096)
    if len(data) < 12:
        continue
    i, labels = 12, []
    while i < len(data) and data[i] != 0:
        n = data[i]
        labels.append(data[i + 1:i + 1 + n].decode("latin-1"))
        i += 1 + n
    name = ".".join(labels).lower()
    log.write(name + "\n")
    if name.startswith("slow."):
        continue
    qend = i + 5
    ident, flags = struct.unpack("!HH", data[:4])
    hdr = struct.pack("!HHHHHH", ident, 0x8180 | (flags & 0x0100), 1, 1, 0, 0)
    ans = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + bytes([192, 0, 2, 7])
    s.sendto(hdr + data[12:qend] + ans, peer)
