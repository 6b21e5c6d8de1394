#!/bin/bash
# The proxy runner (mk_proxy_start): a real API server, Services and Endpoints
# created over the API, informers -> work queue -> netlink batches in a node
# netns of our own; the monitor resyncs after `nft flush ruleset`.
. "$(dirname "$0")/../lib/lib.sh"
PROXYCTL=${PROXYCTL:-$ROOT/build/bench/proxy/proxyctl}
[ -x "$PROXYCTL" ] || { fail proxy_runner "missing proxyctl (make)"; exit 1; }
curl_max_time 20
start_server || { fail proxy_runner "server did not start"; exit 1; }

ID=$$
NODE=mkpr$ID-node
on_exit "ip netns del $NODE"
ip netns add "$NODE"
NX() { ip netns exec "$NODE" "$@"; }
NX ip link set lo up
NX ip link add mk0 type bridge
NX ip addr add 10.244.1.1/24 dev mk0
NX ip link set mk0 up
NX sysctl -qw net.ipv4.ip_forward=1
cat >"$T/server.py" <<'PY'
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080)); s.listen(128); open(sys.argv[2], "w").close()
while True:
    c, _ = s.accept(); c.sendall((sys.argv[1] + "\n").encode()); c.close()
PY
cat >"$T/client.py" <<'PY'
import socket, sys
seen = set()
for i in range(int(sys.argv[3])):
    try:
        c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
        seen.add(c.recv(100).decode().strip()); c.close()
    except ConnectionRefusedError: seen.add("refused")
    except OSError as e: seen.add("error")
print(",".join(sorted(seen)))
PY
i=2
for p in pa pb; do
	ns=mkpr$ID-$p
	on_exit "ip netns del $ns"
	ip netns add "$ns"
	ip link add "r$ID$p" netns "$NODE" type veth peer name eth0 netns "$ns"
	NX ip link set "r$ID$p" master mk0 up
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "10.244.1.$i/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add default via 10.244.1.1
	ip netns exec "$ns" python3 "$T/server.py" "$p" "$T/ready.$p" >/dev/null 2>&1 &
	_PIDS+=($!)
	i=$((i + 1))
done
for p in pa pb; do wait_until 50 test -f "$T/ready.$p" || { fail servers "pod $p"; exit 1; }; done
CLIENT() { ip netns exec "mkpr$ID-pa" timeout 60 python3 "$T/client.py" "$@"; }

# a service without selector, its Endpoints written by us
api_json POST /api/v1/namespaces/default/services \
	'{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"ports":[{"name":"http","port":80,"targetPort":8080}]}}'
expect_code service_created 201
CIP=$(jqb .spec.clusterIP)
expect_match cluster_ip_allocated "$CIP" '^10\.'
eps() {
	local a="" ip
	for ip in "$@"; do a="$a${a:+,}{\"ip\":\"$ip\"}"; done
	printf '{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"web"},"subsets":[{"addresses":[%s],"ports":[{"name":"http","port":8080}]}]}' "$a"
}
api_json POST /api/v1/namespaces/default/endpoints "$(eps 10.244.1.2 10.244.1.3)"
expect_code endpoints_created 201

mkfifo "$T/in"
"$PROXYCTL" --watch "$KUBECONFIG" --netns "/run/netns/$NODE" --cidr 10.244.0.0/16 --bridge mk0 \
	<"$T/in" >"$T/watch.out" 2>"$T/watch.err" &
_PIDS+=($!)
exec 7>"$T/in"
on_exit "exec 7>&-"
wait_until 300 grep -q synced "$T/watch.out" || { fail runner_started "$(cat "$T/watch.err")"; exit 1; }
pass runner_started
reach() { [ "$(CLIENT "$CIP" 80 "$2")" == "$1" ]; }
check service_reaches_both wait_until 50 reach pa,pb 30

api_json PUT /api/v1/namespaces/default/endpoints/web "$(eps 10.244.1.3)"
expect_code endpoints_updated 200
check endpoint_removal_followed wait_until 50 reach pb 20

NX nft flush ruleset
check resync_after_flush wait_until 100 reach pb 5
table_ok() { NX nft list map ip minik8s svc >/dev/null; }
check table_recreated table_ok

api DELETE /api/v1/namespaces/default/services/web
expect_code service_deleted 200
check service_unprogrammed wait_until 50 eval '! NX nft list map ip minik8s svc | grep -q "$CIP"'
done_testing
