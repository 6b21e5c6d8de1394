#!/bin/bash
# The ClusterIP balancer's data plane, for real, inside network namespaces of
# our own: a "node" netns with bridge mk0 and three "pod" netns with tiny
# servers; pkg/proxy programs table ip minik8s in the node netns (driven by
# build/bench/proxy/proxyctl). Checks ClusterIP TCP from a pod and from the
# node, UDP, hairpin, no-endpoint reject, NodePort, ClientIP affinity, endpoint
# removal (and UDP conntrack flush), pod egress masquerade, resync after
# `nft flush ruleset`, removal,
# and that the root netns ruleset is untouched.
. "$(dirname "$0")/../lib/lib.sh"
PROXYCTL=${PROXYCTL:-$ROOT/build/bench/proxy/proxyctl}
command -v python3 >/dev/null || { fail proxy_dataplane "python3 missing"; exit 1; }

ID=$$
NODE=mkpx$ID-node
PODS=(pa pb pc)
ROOT_BEFORE=$(nft list tables 2>&1)
on_exit "ip netns del $NODE"
ip netns add "$NODE"
NX() { ip netns exec "$NODE" "$@"; }
NX ip link set lo up
NX ip link add mk0 type bridge
NX ip addr add 10.244.1.1/24 dev mk0
NX ip link set mk0 up
# the node's "external" address, and a default route so local clients route
NX ip link add eth0 type veth peer name eth0p
NX ip link set eth0p up
NX ip addr add 192.168.77.1/24 dev eth0
NX ip link set eth0 up
NX ip route add default via 192.168.77.254 dev eth0 onlink
NX sysctl -qw net.ipv4.ip_forward=1

cat >"$T/server.py" <<'PY'
import socket, sys, threading
name = sys.argv[1]
def tcp():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 8080)); s.listen(128)
    while True:
        c, _ = s.accept(); c.sendall((name + "\n").encode()); c.close()
def udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 5353))
    while True:
        d, a = u.recvfrom(2048); u.sendto(name.encode(), a)
threading.Thread(target=udp, daemon=True).start()
open(sys.argv[2], "w").close()
tcp()
PY
cat >"$T/client.py" <<'PY'
# client.py tcp|udp HOST PORT N [SPORT]: prints the sorted distinct answers
import socket, sys, time
mode, host, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sport = int(sys.argv[5]) if len(sys.argv) > 5 else 0
seen = set()
for i in range(n):
    try:
        if mode == "tcp":
            t0 = time.time()
            c = socket.create_connection((host, port), timeout=3)
            seen.add(c.recv(100).decode().strip()); c.close()
        else:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if sport: u.bind(("0.0.0.0", sport))
            u.settimeout(2); u.sendto(b"hi", (host, port))
            seen.add(u.recvfrom(100)[0].decode()); u.close()
    except ConnectionRefusedError:
        seen.add("refused(%.2fs)" % (time.time() - t0) if time.time() - t0 > 0.5 else "refused")
    except OSError as e:
        seen.add("error:" + type(e).__name__)
print(",".join(sorted(seen)))
PY

i=2
for p in "${PODS[@]}"; do
	ns=mkpx$ID-$p
	on_exit "ip netns del $ns"
	ip netns add "$ns"
	ip link add "v$ID$p" netns "$NODE" type veth peer name eth0 netns "$ns"
	NX ip link set "v$ID$p" master mk0 up
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "10.244.1.$i/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add default via 10.244.1.1
	ip netns exec "$ns" python3 "$T/server.py" "$p" "$T/ready.$p" >"$T/server.$p.log" 2>&1 &
	_PIDS+=($!)
	i=$((i + 1))
done
for p in "${PODS[@]}"; do wait_until 50 test -f "$T/ready.$p" || { fail servers "pod $p server did not start"; exit 1; }; done
POD() { local p=$1; shift; ip netns exec "mkpx$ID-$p" "$@"; }
CLIENT() { local where=$1; shift; if [ "$where" == node ]; then NX timeout 60 python3 "$T/client.py" "$@"; else POD "$where" timeout 60 python3 "$T/client.py" "$@"; fi; }

# services: JSON as the API serves them (pod IPs pa=.2 pb=.3 pc=.4)
svc() { # name clusterIP port proto type [affinity]
	local aff=""
	[ -n "${6:-}" ] && aff=',"sessionAffinity":"ClientIP","sessionAffinityConfig":{"clientIP":{"timeoutSeconds":'$6'}}'
	local np=""
	[ "$5" == NodePort ] && np=',"nodePort":30080'
	printf '{"metadata":{"namespace":"default","name":"%s"},"spec":{"type":"%s","clusterIP":"%s","ports":[{"name":"p","port":%s,"protocol":"%s","targetPort":8080%s}]%s}}' \
		"$1" "$5" "$2" "$3" "$4" "$np" "$aff"
}
eps() { # name proto port ip...
	local n=$1 proto=$2 port=$3 a="" ip; shift 3
	for ip in "$@"; do a="$a${a:+,}{\"ip\":\"$ip\"}"; done
	printf '{"metadata":{"namespace":"default","name":"%s"},"subsets":[{"addresses":[%s],"ports":[{"name":"p","port":%s,"protocol":"%s"}]}]}' "$n" "$a" "$port" "$proto"
}
item() { printf '{"service":%s,"endpoints":%s}' "$1" "$2"; }
ALL="10.244.1.2 10.244.1.3 10.244.1.4"
cat >"$T/state1.json" <<EOF2
[ $(item "$(svc web 10.96.0.10 80 TCP ClusterIP)" "$(eps web TCP 8080 $ALL)"),
  $(item "$(svc dns 10.96.0.11 53 UDP ClusterIP)" "$(eps dns UDP 5353 10.244.1.3 10.244.1.4)"),
  $(item "$(svc empty 10.96.0.12 80 TCP ClusterIP)" "null"),
  $(item "$(svc np 10.96.0.13 80 TCP NodePort)" "$(eps np TCP 8080 10.244.1.3)"),
  $(item "$(svc sticky 10.96.0.14 80 TCP ClusterIP 600)" "$(eps sticky TCP 8080 $ALL)"),
  $(item "$(svc self 10.96.0.15 80 TCP ClusterIP)" "$(eps self TCP 8080 10.244.1.2)") ]
EOF2

# the proxy as a coprocess: one command line in, one answer line out
coproc PX { exec "$PROXYCTL" --netns "/run/netns/$NODE" --cidr 10.244.0.0/16 --bridge mk0 2>"$T/proxyctl.err"; }
_PIDS+=($PX_PID)
pxcmd() { echo "$*" >&"${PX[1]}"; local l; read -r -t 30 l <&"${PX[0]}"; echo "$l"; }

out=$(pxcmd sync "$T/state1.json")
expect_match proxy_full_sync "$out" '^ok '
table_ok() { NX nft list map ip minik8s svc >/dev/null; }
check proxy_table_in_node_netns table_ok

expect_eq clusterip_tcp_from_pod "$(CLIENT pa tcp 10.96.0.10 80 40)" "pa,pb,pc"
expect_eq clusterip_tcp_from_node "$(CLIENT node tcp 10.96.0.10 80 40)" "pa,pb,pc"
expect_eq hairpin "$(CLIENT pa tcp 10.96.0.15 80 5)" "pa"
expect_eq same_node_pod_to_service "$(CLIENT pb tcp 10.96.0.15 80 5)" "pa"

# pod egress: an "outside" host behind the node's eth0 knows no route to the pods, so
# a pod reaches it only masqueraded behind the node address (which it must report)
EXT=mkpx$ID-ext
on_exit "ip netns del $EXT"
ip netns add "$EXT"
NX ip link set eth0p netns "$EXT"
ip -n "$EXT" link set lo up
ip -n "$EXT" addr add 192.168.77.254/24 dev eth0p
ip -n "$EXT" link set eth0p up
cat >"$T/peer.py" <<'PY'
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9090)); s.listen(16); open(sys.argv[1], "w").close()
while True:
    c, a = s.accept(); c.sendall((a[0] + "\n").encode()); c.close()
PY
ip netns exec "$EXT" python3 "$T/peer.py" "$T/ready.ext" >/dev/null 2>&1 &
_PIDS+=($!)
wait_until 50 test -f "$T/ready.ext" || { fail egress "outside server did not start"; exit 1; }
expect_eq pod_egress_masqueraded "$(POD pa timeout 10 python3 -c '
import socket; c = socket.create_connection(("192.168.77.254", 9090), timeout=3); print(c.recv(64).decode().strip())' 2>&1)" 192.168.77.1
expect_eq clusterip_udp "$(CLIENT pa udp 10.96.0.11 53 30)" "pb,pc"
expect_eq no_endpoints_refused_at_once "$(CLIENT pa tcp 10.96.0.12 80 3)" "refused"
expect_eq no_endpoints_refused_from_node "$(CLIENT node tcp 10.96.0.12 80 2)" "refused"
expect_eq nodeport_from_pod "$(CLIENT pa tcp 192.168.77.1 30080 5)" "pb"
expect_eq nodeport_from_node "$(CLIENT node tcp 192.168.77.1 30080 5)" "pb"
expect_eq nodeport_on_bridge_address "$(CLIENT pc tcp 10.244.1.1 30080 5)" "pb"
aff=$(CLIENT pa tcp 10.96.0.14 80 30)
expect_match affinity_one_backend "$aff" '^p[abc]$'
expect_eq affinity_not_applied_to_plain_service "$(CLIENT pb tcp 10.96.0.10 80 40)" "pa,pb,pc"

# a UDP flow from a fixed source port sticks to its endpoint through conntrack
first=$(CLIENT pa udp 10.96.0.11 53 1 40000)
expect_match udp_flow_answered "$first" '^p[bc]$'
other=pb; [ "$first" == pb ] && other=pc
keep=10.244.1.3; [ "$first" == pb ] && keep=10.244.1.4
# endpoint removal: web loses pc, dns loses the endpoint the flow went to
cat >"$T/state2.json" <<EOF2
[ $(item "$(svc web 10.96.0.10 80 TCP ClusterIP)" "$(eps web TCP 8080 10.244.1.2 10.244.1.3)"),
  $(item "$(svc dns 10.96.0.11 53 UDP ClusterIP)" "$(eps dns UDP 5353 $keep)") ]
EOF2
out=$(pxcmd apply "$T/state2.json")
expect_match endpoint_removal_applied "$out" '^ok .* ct=[1-9]'
expect_eq removed_endpoint_gets_no_new_connections "$(CLIENT pa tcp 10.96.0.10 80 40)" "pa,pb"
expect_eq udp_conntrack_flushed "$(CLIENT pa udp 10.96.0.11 53 1 40000)" "$other"
# endpoints back: 0 -> N and N -> N+1 through incremental changes
cat >"$T/state3.json" <<EOF2
[ $(item "$(svc empty 10.96.0.12 80 TCP ClusterIP)" "$(eps empty TCP 8080 10.244.1.4)"),
  $(item "$(svc web 10.96.0.10 80 TCP ClusterIP)" "$(eps web TCP 8080 $ALL)"),
  {"delete":"default/self"} ]
EOF2
out=$(pxcmd apply "$T/state3.json")
expect_match endpoint_added_applied "$out" '^ok '
expect_eq empty_service_gets_endpoint "$(CLIENT pa tcp 10.96.0.12 80 3)" "pc"
expect_eq endpoint_back "$(CLIENT pa tcp 10.96.0.10 80 40)" "pa,pb,pc"
r=$(CLIENT pa tcp 10.96.0.15 80 1)
if [[ "$r" == error:* || "$r" == refused ]]; then pass deleted_service_unprogrammed; else fail deleted_service_unprogrammed "got $r"; fi

# someone flushes the node's ruleset: a full sync converges
NX nft flush ruleset
expect_match flushed "$(pxcmd exists)" 'exists=0'
out=$(pxcmd sync "$T/state1.json")
expect_match resync_after_flush "$out" '^ok '
expect_eq works_after_resync "$(CLIENT pb tcp 10.96.0.10 80 40)" "pa,pb,pc"
# a full sync over an existing table replaces it atomically (no duplicates)
out=$(pxcmd sync "$T/state1.json")
expect_match resync_over_existing "$out" '^ok '
expect_eq one_dispatch_element_per_port "$(NX nft list map ip minik8s svc | grep -c ' : goto \| : goto')" "$(NX nft list map ip minik8s svc | grep -c 'goto')"

out=$(pxcmd remove)
expect_match remove "$out" '^ok '
if NX nft list table ip minik8s >/dev/null 2>&1; then fail table_removed "still there"; else pass table_removed; fi
pxcmd quit >/dev/null
expect_eq root_netns_untouched "$(nft list tables 2>&1)" "$ROOT_BEFORE"
done_testing
