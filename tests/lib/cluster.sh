# A multi-node minik8s cluster on one machine, nodes as network namespaces (as kind
# uses containers as nodes). Source it after lib.sh:
#   . "$(dirname "$0")/../lib/cluster.sh"
#
# The underlay: a "switch" namespace holding a bridge (br0, the gateway address
# $CL_NET.1/24) and one veth per node; node K's namespace holds the other end as
# eth0 with $CL_NET.(10+K)/24, lo up and a default route via the gateway (so traffic
# the node itself sends to a ClusterIP has a route before nftables rewrites it).
# Everything lives in namespaces created here; nothing touches the root namespace's
# links, addresses, routes or nftables.
#
# CL_LAYOUT=routed (set before sourcing): no L2 between the nodes. The "switch"
# namespace is a router instead: node K's eth0 has $CL_RNET.K.10/24 on a subnet of
# its own, the router's end vK has $CL_RNET.K.1/24 and forwards between them, and
# each node's default route points at its own router address (the overlay test).
#
# Each node runs `minik8s up` inside its namespace (nsenter --net only: the mount
# namespace is shared, so overlays and pod namespace files stay visible to the test)
# with its own --data-dir, --run-dir, --netns-dir and --cgroup-parent, all under $T.
# Node 1 is the server (API, controllers, its own agent); the others join it with
# the server's node-token. Each node runs its own agent, balancer and DNS.
#
# Functions (N is a node number, 1..CL_NODES):
#   cluster_underlay              create the switch and node namespaces
#   cluster_import N FILES...     `minik8s image import` into node N's data dir
#   cluster_up_server [FLAGS...]  `minik8s up` on node 1 (extra server flags)
#   cluster_join N [FLAGS...]     `minik8s up --server ... --token ...` on node N
#                                 (the server of node CL_JOIN_NODE, 1 unless set)
#   cluster_up_server_on N [FLAGS...]  `minik8s up` as a server on node N (several
#                                 servers on one --datastore-endpoint; list them in
#                                 CL_SERVER_NODES, "1" by default, before sourcing)
#   cluster_pid N                 pid of node N's minik8s (from its pid file)
#   cluster_down N                `minik8s down --purge` on node N
#   cluster_leftovers N           what is left of node N on the machine (one word per kind)
#   cluster_teardown              down every node, force-clean what remains, delete namespaces
#   IN N CMD...                   run CMD in node N's network namespace
#   KC ARGS...                    /usr/bin/kubectl with node 1's kubeconfig, inside node 1
CL_NODES=${CL_NODES:-3}
CL_ID=${CL_ID:-mkc$$}
CL_LAYOUT=${CL_LAYOUT:-bridge}
CL_NET=${CL_NET:-192.168.240}
CL_RNET=${CL_RNET:-172.31}
CL_GW=$CL_NET.1
CL_SW=$CL_ID-sw
CL_KUBECONFIG=$T/kubeconfig
CL_PORT=6443
if [ "$CL_LAYOUT" = routed ]; then
	cl_ip() { echo "$CL_RNET.$1.10"; }
	cl_gw() { echo "$CL_RNET.$1.1"; }
	cl_subnet() { echo "$CL_RNET.$1.0/24"; }
else
	cl_ip() { echo "$CL_NET.$((10 + $1))"; }
	cl_gw() { echo "$CL_GW"; }
	cl_subnet() { echo "$CL_NET.0/24"; }
fi
CL_SERVER=https://$(cl_ip 1):$CL_PORT
KUBECTL=${KUBECTL:-$(command -v /usr/bin/kubectl kubectl | head -1)}
CL_UP_TIMEOUT=${CL_UP_TIMEOUT:-150}

cl_ns() { echo "$CL_ID-n$1"; }
cl_name() { echo "node$1"; }
cl_dir() { echo "$T/node$1"; }
cl_data() { echo "$T/node$1/data"; }
cl_run() { echo "$T/node$1/run"; }
cl_netns() { echo "$T/node$1/netns"; }
cl_cg() { echo "/$CL_ID-node$1"; }
# node 1's kubeconfig is the cluster's; another server node N (CL_SERVER_NODES) has
# its own, $T/nodeN/kubeconfig; the agents write none (down --purge removes it)
CL_SERVER_NODES=${CL_SERVER_NODES:-1}
cl_kubeconfig() {
	if [ "$1" = 1 ]; then echo "$CL_KUBECONFIG"
	elif [[ " $CL_SERVER_NODES " == *" $1 "* ]]; then echo "$T/node$1/kubeconfig"
	else echo "$T/node$1/kubeconfig-none"; fi
}
cl_url() { echo "https://$(cl_ip "$1"):$CL_PORT"; }

IN() { local n=$1; shift; nsenter "--net=/run/netns/$(cl_ns "$n")" "$@"; }
KC() { IN 1 timeout 60 "$KUBECTL" --kubeconfig "$CL_KUBECONFIG" "$@"; }

# the flags that keep node N's state apart from every other node's
cl_node_flags() {
	echo --node-name "$(cl_name "$1")" --node-ip "$(cl_ip "$1")" --data-dir "$(cl_data "$1")" \
		--run-dir "$(cl_run "$1")" --netns-dir "$(cl_netns "$1")" --cgroup-parent "$(cl_cg "$1")"
}

cluster_underlay() {
	local n ns
	ip netns add "$CL_SW" || return 1
	on_exit cluster_teardown
	ip -n "$CL_SW" link set lo up
	[ "$CL_LAYOUT" = routed ] && { cl_router; return; }
	ip -n "$CL_SW" link add br0 type bridge || return 1
	ip -n "$CL_SW" addr add "$CL_GW/24" dev br0
	ip -n "$CL_SW" link set br0 up
	for ((n = 1; n <= CL_NODES; n++)); do
		ns=$(cl_ns "$n")
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up
		# both ends are created directly inside the namespaces (never in the root one)
		ip -n "$CL_SW" link add "v$n" type veth peer name eth0 netns "$ns" || return 1
		ip -n "$CL_SW" link set "v$n" master br0 up
		ip -n "$ns" addr add "$(cl_ip "$n")/24" dev eth0
		ip -n "$ns" link set eth0 up
		ip -n "$ns" route add default via "$CL_GW"
		mkdir -p "$(cl_dir "$n")"
	done
}

# the routed layout: one subnet per node, the switch namespace routes between them
cl_router() {
	local n ns
	ip netns exec "$CL_SW" sysctl -qw net.ipv4.ip_forward=1 || return 1
	for ((n = 1; n <= CL_NODES; n++)); do
		ns=$(cl_ns "$n")
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up
		ip -n "$CL_SW" link add "v$n" type veth peer name eth0 netns "$ns" || return 1
		ip -n "$CL_SW" addr add "$(cl_gw "$n")/24" dev "v$n"
		ip -n "$CL_SW" link set "v$n" up
		ip -n "$ns" addr add "$(cl_ip "$n")/24" dev eth0
		ip -n "$ns" link set eth0 up
		ip -n "$ns" route add default via "$(cl_gw "$n")"
		mkdir -p "$(cl_dir "$n")"
	done
}

cluster_import() {
	local n=$1; shift
	"$MINIK8S" image --data-dir "$(cl_data "$n")" import "$@"
}

# cluster_up_server [FLAGS...]: node 1 as server + agent; its output in $T/up1.out
cluster_up_server() {
	# shellcheck disable=SC2046
	IN 1 timeout "$CL_UP_TIMEOUT" "$MINIK8S" up $(cl_node_flags 1) --bind-address 0.0.0.0 \
		--https-listen-port "$CL_PORT" --write-kubeconfig "$CL_KUBECONFIG" "$@" >>"$T/up1.out" 2>&1
}

# cluster_up_server_on N [FLAGS...]: node N as a server (its kubeconfig: cl_kubeconfig N);
# its output in $T/upN.out
cluster_up_server_on() {
	local n=$1; shift
	# shellcheck disable=SC2046
	IN "$n" timeout "$CL_UP_TIMEOUT" "$MINIK8S" up $(cl_node_flags "$n") --bind-address 0.0.0.0 \
		--https-listen-port "$CL_PORT" --write-kubeconfig "$(cl_kubeconfig "$n")" "$@" >>"$T/up$n.out" 2>&1
}

# cluster_join N [FLAGS...]: node N as an agent joining node CL_JOIN_NODE's server (1
# unless set) with its node-token, at CL_JOIN_URL (default that server's URL; a list
# URL,URL... for an agent that fails over); output in $T/upN.out
cluster_join() {
	local n=$1 s=${CL_JOIN_NODE:-1}; shift
	# shellcheck disable=SC2046
	IN "$n" timeout "$CL_UP_TIMEOUT" "$MINIK8S" up --server "${CL_JOIN_URL:-$(cl_url "$s")}" \
		--token "$(cat "$(cl_data "$s")/node-token")" $(cl_node_flags "$n") "$@" >>"$T/up$n.out" 2>&1
}

cluster_pid() {
	local p
	p=$(cat "$(cl_run "$1")/minik8s.pid" 2>/dev/null) || return 1
	[ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"
}

cluster_down() {
	# keep the node's log: --purge deletes the data dir it lives in
	[ -f "$(cl_data "$1")/minik8s.log" ] && cat "$(cl_data "$1")/minik8s.log" >>"$T/node$1.log"
	# every flag given: without what `up` saved (a failed start) the defaults would
	# name the host's /var/lib/minik8s, /minik8s cgroups and /etc/minik8s/kubeconfig
	IN "$1" timeout 60 "$MINIK8S" down --purge --data-dir "$(cl_data "$1")" --run-dir "$(cl_run "$1")" \
		--netns-dir "$(cl_netns "$1")" --cgroup-parent "$(cl_cg "$1")" \
		--write-kubeconfig "$(cl_kubeconfig "$1")" >>"$T/down$1.out" 2>&1
}

# cluster_leftovers N: one line per kind of trace node N left (empty: nothing)
cluster_leftovers() {
	local n=$1 ns run data cg l
	ns=$(cl_ns "$n") run=$(cl_run "$n") data=$(cl_data "$n") cg=$(cl_cg "$n")
	# processes: the node's minik8s, and any shim or container process whose
	# command line or cgroup names this node's dirs or cgroup parent
	[ -n "$(cluster_pid "$n")" ] && echo "process(minik8s pid $(cluster_pid "$n"))"
	l=$(grep -l -e "$(cl_dir "$n")[/]" -e "${cg}[/]" /proc/[0-9]*/cmdline /proc/[0-9]*/cgroup 2>/dev/null |
		cut -d/ -f3 | sort -u | grep -vx "$$" | tr '\n' ' ')
	[ -n "$l" ] && echo "processes($l)"
	if [ -e "/run/netns/$ns" ]; then
		ip netns exec "$ns" nft list tables 2>/dev/null | grep -q minik8s &&
			echo "nft($(ip netns exec "$ns" nft list tables 2>/dev/null | grep minik8s | tr '\n' ' '))"
		l=$(ip -n "$ns" -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 |
			grep -vx -e lo -e eth0 | tr '\n' ' ')
		[ -n "$l" ] && echo "links($l)"
		l=$(ip -n "$ns" -4 -o addr show 2>/dev/null | awk '{print $2"="$4}' |
			grep -vx -e "lo=127.0.0.1/8" -e "eth0=$(cl_ip "$n")/24" | tr '\n' ' ')
		[ -n "$l" ] && echo "addresses($l)"
		l=$(ip -n "$ns" -4 route show 2>/dev/null | grep -v -e "^default via $(cl_gw "$n")" \
			-e "^$(cl_subnet "$n") dev eth0" | tr '\n' ';')
		[ -n "$l" ] && echo "routes($l)"
		l=$(ip -n "$ns" -4 route show table all 2>/dev/null | grep -c '10\.96\.\|10\.244\.')
		[ "$l" != 0 ] && echo "cluster-routes($l)"
	fi
	[ -d "$run/runc" ] && [ -n "$(runc --root "$run/runc" list -q 2>/dev/null)" ] &&
		echo "containers($(runc --root "$run/runc" list -q 2>/dev/null | wc -l))"
	l=$(grep -c " $(cl_dir "$n")/" /proc/mounts)
	[ "$l" != 0 ] && echo "mounts($l)"
	[ -n "$(ls -A "$(cl_netns "$n")" 2>/dev/null)" ] && echo "pod-netns($(ls "$(cl_netns "$n")" | wc -l))"
	l=$(find /sys/fs/cgroup -maxdepth 2 -type d -name "${cg#/}" 2>/dev/null | wc -l)
	[ "$l" != 0 ] && echo "cgroups($l)"
	[ -e "$run/minik8s.pid" ] && echo "pidfile"
	[ -n "$(ls -A "$run" 2>/dev/null)" ] && echo "run-dir($(ls -A "$run" | tr '\n' ' '))"
	[ -e "$data" ] && echo "data-dir"
	[ -e "$(cl_kubeconfig "$n")" ] && echo "kubeconfig"
	return 0
}

# force-removes whatever node N left (after `down`, or when down failed)
cl_force_clean() {
	local n=$1 run cg p id d
	run=$(cl_run "$n") cg=$(cl_cg "$n")
	p=$(cluster_pid "$n") && { kill -9 "$p"; sleep 0.2; }
	if [ -d "$run/runc" ]; then
		for id in $(runc --root "$run/runc" list -q 2>/dev/null); do
			runc --root "$run/runc" delete --force "$id" >/dev/null 2>&1
		done
	fi
	# shims or container processes still in the node's cgroups
	for d in $(find /sys/fs/cgroup -maxdepth 2 -type d -name "${cg#/}" 2>/dev/null); do
		for p in $(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	done
	grep -o " $(cl_dir "$n")/[^ ]*" /proc/mounts | sort -r | while read -r d; do umount -l "$d" 2>/dev/null; done
	for d in $(find /sys/fs/cgroup -maxdepth 2 -type d -name "${cg#/}" 2>/dev/null); do
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
}

CL_TORN=0
cluster_teardown() {
	local n
	[ "$CL_TORN" = 1 ] && return 0
	CL_TORN=1
	for ((n = CL_NODES; n >= 1; n--)); do
		[ -e "/run/netns/$(cl_ns "$n")" ] && cluster_down "$n"
		cl_force_clean "$n"
		ip netns delete "$(cl_ns "$n")" 2>/dev/null
	done
	ip netns delete "$CL_SW" 2>/dev/null
	return 0
}
