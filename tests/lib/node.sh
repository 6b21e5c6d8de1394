# One minik8s node for an end-to-end script: `minik8s server` with its in-process
# agent, run inside a network namespace the script creates (the "node": lo, and eth0
# with NODE_IP on a veth pair kept inside the namespace, so no dummy module is needed),
# on a data dir, run dir, netns dir, cgroup parent and port of its own. Nothing
# touches the root namespace's links, routes or nftables. Source it after lib.sh:
#   . "$(dirname "$0")/../lib/node.sh"
#
# The usual script:
#   node_require NAME TOOL...     root and the tools, or FAIL "NAME" and exit
#   node_init TAG [NODE_IP]       the variables below (TAG names the namespace and the
#                                 cgroup parent; NODE_IP 192.168.78.2 by default), the
#                                 namespace, the cleanup
#   node_up [SERVER_FLAGS...]     the busybox image imported (IMG), the server started
#                                 and its agent running; reports "busybox image
#                                 imported" and "server with agent starts", exits on
#                                 failure
# or node_up's steps one by one, when the script does something between them:
#   node_image                    builds tests/lib/mkimage.sh's busybox and imports it
#                                 into DATA as test/busybox; sets IMG (the caller checks)
#   node_start [SERVER_FLAGS...]  starts the server (again, after the script stopped
#                                 it; without flags, with those of the last start) and
#                                 waits for its API and for its agent (one more "node
#                                 agent running" in the log than before); 1 if they do
#                                 not come
# A script that runs `minik8s up` itself takes node_init and node_image, and registers
# node_down (below) with on_exit.
#
# Set before node_init to change: NODE (node1), NODE_BIND (127.0.0.1; 0.0.0.0 or
# $NODE_IP lets pods reach the API at NODE_IP), NODE_LOGS (more logs to show on
# failure). NODE_SHOW_LOGS=1 shows the logs also when nothing failed.
# Sets: NS, NODE, NODE_IP, RUN, NETNS, CG, DATA, PORT, KUBECONFIG (exported), CACERT,
# API, IN (the nsenter prefix for the node), SERVER_PID and TOKEN (node_start); defines
# curl (inside the node, so lib.sh's api runs there too) and K (the real kubectl
# inside the node, 30 s at most).
# Probes of what the node holds: node_containers (the runc container ids) and
# node_pod_leftovers UID (every trace of a pod), below.
#
# On exit (lib.sh's on_exit): on failure the last lines of the logs; then the server
# is stopped first (its agent would bring back what goes next), every runc container
# under $T/run*/runc is deleted (a second agent's run dir too), mounts under $T are
# unmounted, the cgroup parent removed and the namespace deleted.
KUBECTL=${KUBECTL:-/usr/bin/kubectl}

# node_require NAME TOOL...: root and every TOOL, or FAIL "NAME" and exit
node_require() {
	local name=$1
	if [ "$(id -u)" != 0 ]; then fail "$name" "must run as root"; exit 1; fi
	require_tools "$@"
}

node_init() {
	NS=mkt-$$-$1
	NODE=${NODE:-node1}
	NODE_IP=${2:-192.168.78.2}
	RUN=$T/run
	NETNS=$T/netns
	CG=/mkt-$$-$1
	DATA=$T/data
	PORT=$(free_port)
	KUBECONFIG=$T/kubeconfig
	CACERT=$DATA/tls/ca.crt
	NODE_BIND=${NODE_BIND:-127.0.0.1}
	if [ "$NODE_BIND" == 0.0.0.0 ]; then API=https://127.0.0.1:$PORT; else API=https://$NODE_BIND:$PORT; fi
	IN=(nsenter "--net=/run/netns/$NS")
	SERVER_PID=
	NODE_STARTS=0
	NODE_FLAGS=()
	NODE_LOGS=("$T/server.log" ${NODE_LOGS[@]+"${NODE_LOGS[@]}"})
	export KUBECONFIG
	curl_max_time 20

	on_exit node_cleanup
	exec 3>&2 # lib.sh's cleanup silences stdout and stderr; the logs go here
	on_exit node_dump_logs

	ip netns add "$NS" || { fail "node network namespace" "ip netns add $NS"; exit 1; }
	ip -n "$NS" link set lo up
	ip -n "$NS" link add eth0 type veth peer name eth0peer
	ip -n "$NS" addr add "$NODE_IP/24" dev eth0
	ip -n "$NS" link set eth0peer up
	ip -n "$NS" link set eth0 up
}

# everything that talks to the API runs inside the node namespace
curl() { "${IN[@]}" /usr/bin/curl "$@"; }
K() { "${IN[@]}" timeout 30 "$KUBECTL" "$@"; }

node_image() {
	mkdir -p "$T/outside"
	if ! test_images "$T/img" "$T/outside" >"$T/mkimage.log" 2>&1; then
		fail "build test image" "$(tail -3 "$T/mkimage.log")"; exit 1
	fi
	IMG=$("$MINIK8S" image --data-dir "$DATA" import --name test/busybox "$T/img/busybox-oci.tar" 2>&1)
}

node_start() {
	[ $# -gt 0 ] && NODE_FLAGS=("$@")
	NODE_STARTS=$((NODE_STARTS + 1))
	"${IN[@]}" "$MINIK8S" server --data-dir "$DATA" --bind-address "$NODE_BIND" \
		--https-listen-port "$PORT" --write-kubeconfig "$KUBECONFIG" --node-name "$NODE" \
		--node-ip "$NODE_IP" --run-dir "$RUN" --netns-dir "$NETNS" --cgroup-parent "$CG" \
		${NODE_FLAGS[@]+"${NODE_FLAGS[@]}"} >>"$T/server.log" 2>&1 &
	SERVER_PID=$!
	_PIDS+=("$SERVER_PID")
	local i
	for i in $(seq 150); do
		if [ -f "$DATA/token" ] && curl -sf --cacert "$CACERT" "$API/healthz" >/dev/null 2>&1 &&
			[ "$(grep -c "node agent running" "$T/server.log")" -ge "$NODE_STARTS" ]; then
			TOKEN=$(cat "$DATA/token")
			return 0
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "server did not start; log:"; tail -20 "$T/server.log"
	return 1
}

node_up() {
	node_image
	expect_eq "busybox image imported" "$IMG" "docker.io/test/busybox:latest"
	node_start "$@" || { fail "server with agent starts" "$(tail -5 "$T/server.log")"; exit 1; }
	pass "server with agent starts"
}

# node_down: for a script that runs `minik8s up` itself instead of node_start (register
# it with on_exit after node_init, so it runs first): `minik8s down` on RUN, then
# kill -9 of whatever the pid file still names
node_down() {
	"${IN[@]}" "$MINIK8S" down --run-dir "$RUN" >/dev/null 2>&1
	local pid
	pid=$(cat "$RUN/minik8s.pid" 2>/dev/null) && kill -9 "$pid" 2>/dev/null
}

node_dump_logs() {
	[ "$FAILED" = 1 ] || [ -n "${NODE_SHOW_LOGS:-}" ] || return 0
	local f
	for f in "${NODE_LOGS[@]}"; do
		[ -f "$f" ] || continue
		echo "---- last lines of $f" >&3
		grep -v 'HTTP verb=' "$f" | tail -n 40 >&3
	done
}

node_cleanup() {
	local r id d
	if [ -n "${SERVER_PID:-}" ]; then
		kill "$SERVER_PID" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null
	fi
	for r in "$T"/run*/runc; do
		[ -d "$r" ] || continue
		for id in $(runc --root "$r" list -q 2>/dev/null); do
			runc --root "$r" delete --force "$id" >/dev/null 2>&1
		done
	done
	# overlays and pod namespace files under the test's temp dir only
	grep -o " $T/[^ ]*" /proc/mounts | sort -r | while read -r d; do umount -l "$d" 2>/dev/null; done
	for d in $(find /sys/fs/cgroup -maxdepth 2 -type d -name "${CG#/}" 2>/dev/null); do
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	ip netns delete "$NS" 2>/dev/null
}

# node_containers: the ids of the node's runc containers, one a line. runc list fails
# as a whole when a container is deleted while it reads its root (the agent deletes a
# pod's containers in parallel), so it is tried again (bounded); a list that never
# succeeds is the line "runc-list-failed", which no check takes for "none" or for one
node_containers() {
	local i out
	for i in $(seq 10); do
		out=$(runc --root "$RUN/runc" list -q 2>/dev/null) && { [ -z "$out" ] || printf '%s\n' "$out"; return 0; }
		sleep 0.2
	done
	echo "runc-list-failed"
}

# node_pod_leftovers UID: what is left of pod UID on the node, one word a line: netns,
# veth (the host end, named as pkg/net names it), ip, mount, container, cgroup, poddir,
# statedir; and runc-list-failed when the containers could not be listed
node_pod_leftovers() {
	local u=$1 v ids
	[ -e "$NETNS/mkp-$u" ] && echo "netns"
	v=mk$(printf '%s' "$u" | python3 -c 'import sys
h=0xcbf29ce484222325
for b in sys.stdin.buffer.read(): h=((h^b)*0x100000001b3)&0xffffffffffffffff
print("%016x"%h)' | cut -c1-11)
	"${IN[@]}" ip link show "$v" >/dev/null 2>&1 && echo "veth"
	grep -q "$u" "$DATA/ipam/pods.ipam" 2>/dev/null && echo "ip"
	grep -q "$u" /proc/mounts && echo "mount"
	ids=$(node_containers)
	grep -q "$u" <<<"$ids" && echo "container"
	[ "$ids" = runc-list-failed ] && echo "runc-list-failed"
	[ -n "$(find /sys/fs/cgroup -maxdepth 3 -path "*${CG}/$u*" 2>/dev/null)" ] && echo "cgroup"
	[ -e "$DATA/pods/$u" ] && echo "poddir"
	ls "$RUN/containers" 2>/dev/null | grep -q "$u" && echo "statedir"
}
