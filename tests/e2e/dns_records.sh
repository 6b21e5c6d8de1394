#!/bin/bash
# End-to-end: the cluster DNS responder over real sockets, queried with dig.
# The responder (build/bench/dns/dns_serve) serves a fixture zone on
# 127.0.0.1:FREEPORT and forwards other names to a fake upstream on 127.0.0.1
# (tests/e2e/data/dns/fake_upstream.py). Then: the kube-dns address on a dummy
# link (or lo) inside a network namespace this test creates.
. "$(dirname "$0")/../lib/lib.sh"
SERVE=$ROOT/build/bench/dns/dns_serve
DATA_DIR=$ROOT/tests/e2e/data/dns
[ -x "$SERVE" ] || { fail dns_build "missing $SERVE (make all)"; exit 1; }
command -v dig >/dev/null || { fail dns_dig "dig missing (apt-get install dnsutils)"; exit 1; }

# fixture zone + a headless service with 60 endpoints (too many for 512 bytes)
python3 - "$DATA_DIR/zone.json" >"$T/zone.json" <<'EOF'
import json, sys
z = json.load(open(sys.argv[1]))
z["items"].append({"kind": "Service", "metadata": {"name": "many", "namespace": "demo"},
                   "spec": {"clusterIP": "None"}})
z["items"].append({"kind": "Endpoints", "metadata": {"name": "many", "namespace": "demo"},
                   "subsets": [{"addresses": [{"ip": "10.244.9.%d" % (i + 1)} for i in range(60)]}]})
json.dump(z, sys.stdout)
EOF

python3 "$DATA_DIR/fake_upstream.py" "$T/up.port" "$T/up.log" &
_PIDS+=($!)
wait_until 50 test -s "$T/up.port" || { fail dns_upstream "fake upstream did not start"; exit 1; }
UP=$(cat "$T/up.port")

"$SERVE" --listen 127.0.0.1 --port 0 --workers 2 --zone "$T/zone.json" \
	--upstream "127.0.0.1:$UP" --timeout-ms 300 --tries 2 --ready-file "$T/dns.port" 2>"$T/dns.log" &
DNS_PID=$!
_PIDS+=($DNS_PID)
wait_until 50 test -s "$T/dns.port" || { fail dns_start "responder did not start: $(cat "$T/dns.log")"; exit 1; }
P=$(cat "$T/dns.port")
D() { dig @127.0.0.1 -p "$P" +time=2 +tries=1 "$@" 2>&1; }
status() { D "$@" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }
count() { D "$@" | sed -n "s/.*$1: \([0-9]*\).*/\1/p"; }

expect_eq dns_a "$(D +short php-echo.demo.svc.cluster.local)" "10.96.12.34"
expect_eq dns_a_status "$(status php-echo.demo.svc.cluster.local)" "NOERROR"
out=$(D php-echo.demo.svc.cluster.local)
expect_match dns_a_ttl_aa "$out" "flags: qr aa rd.*php-echo\.demo\.svc\.cluster\.local\.[[:space:]]+5[[:space:]]+IN[[:space:]]+A[[:space:]]+10\.96\.12\.34"
expect_eq dns_srv "$(D +short SRV _http._tcp.php-echo.demo.svc.cluster.local)" "0 100 80 php-echo.demo.svc.cluster.local."
expect_eq dns_headless "$(D +short db.demo.svc.cluster.local | sort | tr '\n' ' ')" "10.244.1.10 10.244.2.11 "
expect_eq dns_headless_host "$(D +short db-1.db.demo.svc.cluster.local)" "10.244.2.11"
expect_eq dns_headless_srv "$(D +short SRV _pg._tcp.db.demo.svc.cluster.local | sort | tr '\n' ' ')" \
	"0 50 5432 db-0.db.demo.svc.cluster.local. 0 50 5432 db-1.db.demo.svc.cluster.local. "
expect_eq dns_ptr_service "$(D +short -x 10.96.12.34)" "php-echo.demo.svc.cluster.local."
expect_eq dns_ptr_pod "$(D +short -x 10.244.1.5)" "10-244-1-5.demo.pod.cluster.local."
expect_eq dns_ptr_headless "$(D +short -x 10.244.1.10)" "db-0.db.demo.svc.cluster.local."
expect_eq dns_cname "$(D +short CNAME ext.default.svc.cluster.local)" "www.example.org."
expect_eq dns_pod_a "$(D +short 10-244-1-5.demo.pod.cluster.local)" "10.244.1.5"
expect_eq dns_nxdomain "$(status nope.demo.svc.cluster.local)" "NXDOMAIN"
out=$(D AAAA php-echo.demo.svc.cluster.local)
expect_match dns_nodata "$out" "status: NOERROR.*ANSWER: 0, AUTHORITY: 1.*cluster\.local\.[[:space:]]+5[[:space:]]+IN[[:space:]]+SOA"
expect_eq dns_nodata_namespace "$(status demo.svc.cluster.local)" "NOERROR"
expect_eq dns_soa_apex "$(D +short SOA cluster.local | awk '{print $1, $2}')" "ns.dns.cluster.local. hostmaster.cluster.local."

# forwarding: relayed with the client's ID, SERVFAIL when the upstream is silent
expect_eq dns_forward "$(D +short www.example.org)" "192.0.2.7"
expect_eq dns_forward_tcp "$(D +tcp +short tcp.example.org)" "192.0.2.7"
expect_eq dns_forward_timeout "$(status slow.example.org)" "SERVFAIL"
expect_eq dns_forward_retried "$(grep -c '^slow\.example\.org$' "$T/up.log")" "2"
# search-path expansions of cluster names: NXDOMAIN from the zone, never upstream
before=$(wc -l <"$T/up.log")
expect_eq dns_search_expansion "$(status php-echo.demo.svc.cluster.local.demo.svc.cluster.local)" "NXDOMAIN"
expect_eq dns_search_not_forwarded "$(wc -l <"$T/up.log")" "$before"

# TCP, EDNS payload size, truncation
expect_eq dns_tcp "$(D +tcp +short php-echo.demo.svc.cluster.local)" "10.96.12.34"
out=$(D +bufsize=512 +ignore many.demo.svc.cluster.local)
expect_match dns_truncated "$out" "flags: qr aa tc rd"
expect_eq dns_truncated_empty "$(sed -n 's/.*ANSWER: \([0-9]*\),.*/\1/p' <<<"$out")" "0"
expect_eq dns_tcp_all "$(D +tcp +short many.demo.svc.cluster.local | wc -l)" "60"
expect_eq dns_edns_fits "$(D +bufsize=4096 +ignore +short many.demo.svc.cluster.local | wc -l)" "60"
out=$(D +bufsize=4096 php-echo.demo.svc.cluster.local)
expect_match dns_edns_opt "$out" "EDNS: version: 0, flags:; udp: 4096"
out=$(D +noedns +ignore many.demo.svc.cluster.local)
expect_match dns_noedns_truncated "$out" "flags: qr aa tc rd"
out=$(D +edns=1 +noednsneg php-echo.demo.svc.cluster.local)
expect_match dns_badvers "$out" "status: BADVERS"

# malformed packets: garbage, loops, truncations, huge TCP lengths; the
# responder keeps answering and answers FORMERR where a header is there
python3 - "$P" >"$T/bad.out" 2>&1 <<'EOF'
import random, socket, struct, sys
port = int(sys.argv[1]); random.seed(7)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(0.05)
def q(name):
    h = struct.pack("!HHHHHH", 0x1111, 0x0100, 1, 0, 0, 0)
    w = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
    return h + w + struct.pack("!HH", 1, 1)
base = q("php-echo.demo.svc.cluster.local")
cases = [b"", b"\0", b"\xff" * 11, base[:20],
         struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + b"\xc0\x0c\0\1\0\1",          # pointer loop
         struct.pack("!HHHHHH", 1, 0, 2, 0, 0, 0) + base[12:] + base[12:],         # qdcount 2
         struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + b"\x40a\0\0\1\0\1",            # label type 0x40
         struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + (b"\x3f" + b"a" * 63) * 5 + b"\0\0\1\0\1"]  # > 255
for _ in range(1500):
    b = bytearray(base)
    for _ in range(random.randint(1, 6)):
        b[random.randrange(len(b))] = random.randrange(256)
    cases.append(bytes(b[:random.randint(0, len(b))]) if random.random() < 0.3 else bytes(b))
formerr = 0
for c in cases:
    u.sendto(c, ("127.0.0.1", port))
    try:
        r = u.recv(4096)
        if len(r) >= 4 and r[3] & 0xF == 1: formerr += 1
    except socket.timeout:
        pass
# TCP: a length prefix announcing more than is sent, then close; and one of 65535
for pre in (b"\xff\xff" + b"x" * 100, b"\x00\x05abc"):
    t = socket.create_connection(("127.0.0.1", port)); t.sendall(pre); t.close()
print("formerr", formerr)
EOF
expect_match dns_malformed_formerr "$(cat "$T/bad.out")" "^formerr [1-9][0-9]*$"
check dns_alive_after_garbage kill -0 "$DNS_PID"
expect_eq dns_answers_after_garbage "$(D +short php-echo.demo.svc.cluster.local)" "10.96.12.34"

# the node setup: kube-dns address on a dummy link (or lo) in a namespace
NS=mkdnse2e$$
if ip netns add "$NS"; then
	on_exit "ip netns delete $NS"
	ip netns exec "$NS" "$SERVE" --dummy mkdns0 --listen 10.96.0.10 --port 53 --workers 1 \
		--zone "$T/zone.json" --ready-file "$T/ns.port" 2>"$T/ns.log" &
	_PIDS+=($!)
	if wait_until 50 test -s "$T/ns.port"; then
		expect_eq dns_netns_kube_dns "$(ip netns exec "$NS" dig @10.96.0.10 +time=2 +tries=1 +short php-echo.demo.svc.cluster.local)" "10.96.12.34"
		expect_match dns_netns_address "$(ip netns exec "$NS" ip -4 addr show)" "inet 10\.96\.0\.10/32"
	else
		fail dns_netns_kube_dns "responder did not start in the namespace: $(cat "$T/ns.log")"
	fi
else
	fail dns_netns_kube_dns "cannot create network namespace $NS"
fi
done_testing
exit 0
