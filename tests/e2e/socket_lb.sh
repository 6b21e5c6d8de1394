#!/bin/bash
# The socket-level ClusterIP balancer (pkg/proxy/socklb.c, eBPF on the pods' cgroup2
# directory) on a real one-node cluster (tests/lib/cluster.sh) with runc pods of the
# lab's echo and jumpbox images and the real kubectl:
# - the agent attaches connect4, sendmsg4, recvmsg4 and getpeername4 programs to its
#   own cgroup parent's cgroup2 directory (bpftool cgroup show), not elsewhere;
# - curl from the jumpbox pod to a ClusterIP is answered by both endpoints, and the
#   connections went the socket path: `minik8s trace` counts them as socket LB
#   connections and the nft map ep counters do not move;
# - a process in a pod's netns and cgroup sees the ClusterIP in getpeername() of a
#   TCP connection and as the source of the UDP answer (recvmsg), while the UDP
#   datagram went straight to an endpoint (socket LB counter of the UDP port);
# - DNS (UDP) to the cluster DNS ClusterIP from the pod still answers;
# - a NetworkPolicy denying ingress to the endpoints denies the socket-LB flow too;
# - an endpoint removed: new connections all go to the one left;
# - the agent stopped: no program attached to the cgroup any more;
# - restarted with --disable-socket-lb: nothing attached, the pod's connections to
#   the ClusterIP are DNATed by nftables (map ep counters move).
. "$(dirname "$0")/../lib/lib.sh"
CL_NODES=1 CL_ID=mksl$$ CL_NET=192.168.244
. "$ROOT/tests/lib/cluster.sh"
MINIK8S=${MINIK8S_BIN:-$MINIK8S}
curl_max_time 20

if [ "$(id -u)" != 0 ]; then fail socket_lb "must run as root"; exit 0; fi
for tool in runc jq curl ip nsenter nft bpftool python3 "$KUBECTL"; do
	command -v "$tool" >/dev/null || { fail socket_lb "$tool missing (scripts/deps.sh)"; exit 0; }
done
[ -x "$MINIK8S" ] || { fail socket_lb "build/minik8s missing"; exit 0; }
if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then CG2=/sys/fs/cgroup; else CG2=/sys/fs/cgroup/unified; fi
CGDIR=$CG2$(cl_cg 1)

if ! lab_images "$T/images" >"$T/images.log" 2>&1; then
	fail images_build "$(tail -3 "$T/images.log")"; exit 0
fi
cluster_underlay || { fail underlay "could not create the namespaces"; exit 0; }
cluster_import 1 "$T/images/echo.tar" "$T/images/jumpbox.tar" >"$T/import.log" 2>&1 ||
	{ fail image_import "$(tail -2 "$T/import.log")"; exit 0; }
cluster_up_server || { fail "minik8s up" "$(tail -5 "$T/up1.out")"; exit 0; }
pass "node up"

# ---- the programs are on the agent's pod cgroup ----
# (bpftool -j: BPF_PROG_QUERY on the cgroup; `up` returns once the API answers, the
# agent's balancer may come a moment later)
HOOKS=
hooks() { bpftool -j cgroup show "$1" 2>&1 | jq -r '[.[] | "\(.attach_type)=\(.name)"] | sort | join(" ")' 2>&1; }
attached() { HOOKS=$(hooks "$CGDIR"); [[ "$HOOKS" == *mk_slb_connect4* ]]; }
wait_until 300 attached
expect_eq "programs attached to the pods' cgroup $CGDIR" "$HOOKS" \
	"cgroup_inet4_connect=mk_slb_connect4 cgroup_inet4_getpeername=mk_slb_getpeername4 cgroup_udp4_recvmsg=mk_slb_recvmsg4 cgroup_udp4_sendmsg=mk_slb_sendmsg4"
expect_eq "nothing attached to the cgroup2 root by us" "$(hooks "$CG2" | grep -c mk_slb)" 0
expect_match "the agent logs where it attached" "$(cat "$(cl_data 1)/minik8s.log" 2>/dev/null)" \
	"socket LB attached to '$CGDIR'"

KC create deployment web --image=minik8s.local/echo:1 --replicas=2 --port=80 >/dev/null 2>&1 || fail "create deployment web"
KC apply -f - >/dev/null 2>&1 <<'Y' || fail "create service web"
{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},
 "spec":{"selector":{"app":"web"},"ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":80},
  {"name":"udp","port":80,"protocol":"UDP","targetPort":80}]}}
Y
KC apply -f - >/dev/null 2>&1 <<'Y' || fail "create pod jumpbox"
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"jumpbox","labels":{"app":"jumpbox"}},
 "spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"j","image":"minik8s.local/jumpbox:1","imagePullPolicy":"IfNotPresent"}]}}
Y
WEB_IP=$(KC get service web -o json 2>/dev/null | jq -r .spec.clusterIP)
expect_match "service web has a ClusterIP" "$WEB_IP" '^10\.'

TR() { IN 1 timeout 30 "$MINIK8S" trace --kubeconfig "$CL_KUBECONFIG" "$@"; }
J=
# both endpoints programmed on the socket path, jumpbox running
ready2() {
	J=$(TR svc/web -o json 2>&1)
	[ "$(jq -r '[.ports[] | .socketLB[0].endpoints] | join(" ")' <<<"$J" 2>/dev/null)" == "2 2" ] &&
		[ "$(KC get pod jumpbox -o json 2>/dev/null | jq -r .status.phase)" == Running ]
}
wait_until 1500 ready2 || { fail "socket LB programs both endpoints" "$J"; exit 0; }
pass "socket LB programs both endpoints of both ports"

sum() { jq -r "[.ports[] | select(.protocol == \"$1\") | .endpoints[].$2] | add" <<<"$J"; }
NAT0=$(sum TCP natConnections) SOCK0=$(sum TCP socketConnections)
# 20 connections from the pod: both endpoints answer (a miss has p = 2^-19)
OUT=$(KC exec jumpbox -- bash -c "for i in \$(seq 20); do curl -s -m 5 http://$WEB_IP/; done" 2>&1)
expect_eq "20 answers from the pod through the ClusterIP" "$(grep -c '^node=' <<<"$OUT")" 20
expect_eq "both endpoints answered" "$(grep -o 'name=[^ ]*' <<<"$OUT" | sort -u | wc -l)" 2
J=$(TR svc/web -o json 2>&1)
expect_eq "trace: 20 more socket LB connections on the TCP port" "$(($(sum TCP socketConnections) - SOCK0))" 20
expect_eq "trace: no more NAT connections (the DNAT path was not used)" "$(($(sum TCP natConnections) - NAT0))" 0
expect_eq "trace: connections is the sum of both paths" \
	"$(jq -r '[.ports[0].endpoints[] | .connections == .natConnections + .socketConnections] | all' <<<"$J")" true
expect_match "trace text names the socket LB path" "$(TR svc/web 2>&1)" \
	"socket LB node1: pods' connect\(\)/sendmsg\(\) to $WEB_IP \. TCP \. 80 go straight to one of 2 endpoints"

# ---- getpeername / recvmsg in a pod: a probe in the jumpbox's netns, in a cgroup of
# its own under the pods' cgroup parent (the programs apply to the whole subtree) ----
JUID=$(KC get pod jumpbox -o json 2>/dev/null | jq -r .metadata.uid)
JNS=$(ls -d "$(cl_netns 1)"/*"$JUID" 2>/dev/null | head -1)
[ -e "$JNS" ] || fail "netns of jumpbox" "$(ls "$(cl_netns 1)")"
PROBE=$CGDIR/probe$$
mkdir -p "$PROBE"
on_exit "rmdir $PROBE 2>/dev/null"
cat >"$T/probe.py" <<'PY'
import socket, sys
ip, port = sys.argv[1], int(sys.argv[2])
c = socket.create_connection((ip, port), timeout=5)
print("tcp-peer %s:%d" % c.getpeername())
c.sendall(b"GET / HTTP/1.0\r\n\r\n")
print("tcp-answer", c.recv(300).decode().split("\r\n")[-1].strip()[:5])
c.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(5)
u.sendto(b"hello\n", (ip, port))
d, a = u.recvfrom(2048)
print("udp-from %s:%d" % a, d.decode().strip()[:5])
PY
UDP0=$(sum UDP socketConnections)
P=$(bash -c 'echo $$ >"$1/cgroup.procs" && exec nsenter --net="$2" timeout 20 python3 "$3" "$4" 80' _ \
	"$PROBE" "$JNS" "$T/probe.py" "$WEB_IP" 2>&1)
expect_eq "getpeername() in the pod shows the ClusterIP" "$(grep '^tcp-peer' <<<"$P")" "tcp-peer $WEB_IP:80"
expect_eq "the TCP connection was answered by an endpoint" "$(grep '^tcp-answer' <<<"$P")" "tcp-answer node="
expect_eq "UDP answer appears to come from the ClusterIP (recvmsg)" "$(grep '^udp-from' <<<"$P")" \
	"udp-from $WEB_IP:80 node="
J=$(TR svc/web -o json 2>&1)
expect_eq "the UDP datagram went the socket path (sendmsg)" "$(($(sum UDP socketConnections) - UDP0))" 1

# ---- DNS to the cluster DNS ClusterIP from the pod ----
expect_eq "DNS (UDP) from the pod to 10.96.0.10" \
	"$(KC exec jumpbox -- dig +short +time=3 +tries=2 @10.96.0.10 web.default.svc.cluster.local 2>&1)" "$WEB_IP"

# ---- NetworkPolicy: deny all ingress to the web pods ----
KC apply -f - >/dev/null 2>&1 <<'Y' || fail "create networkpolicy"
{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"deny-web"},
 "spec":{"podSelector":{"matchLabels":{"app":"web"}},"policyTypes":["Ingress"]}}
Y
denied() { ! KC exec jumpbox -- curl -s -m 1 "http://$WEB_IP/" 2>/dev/null | grep -q '^node='; }
wait_until 300 denied && pass "NetworkPolicy denies the pod's connection to the ClusterIP" ||
	fail "NetworkPolicy denies the pod's connection to the ClusterIP"
# and it stays denied: 5 more tries, none answered
OUT=$(KC exec jumpbox -- bash -c "for i in 1 2 3 4 5; do curl -s -m 1 http://$WEB_IP/; done" 2>&1)
expect_eq "no answer in 5 more tries while denied" "$(grep -c '^node=' <<<"$OUT")" 0
KC delete networkpolicy deny-web >/dev/null 2>&1
allowed() { KC exec jumpbox -- curl -s -m 2 "http://$WEB_IP/" 2>/dev/null | grep -q '^node='; }
wait_until 300 allowed && pass "allowed again once the policy is gone" || fail "allowed again once the policy is gone"

# ---- an endpoint removed: new connections go to the one left ----
KC scale deployment web --replicas=1 >/dev/null 2>&1 || fail "scale web to 1"
one() { J=$(TR svc/web -o json 2>&1); [ "$(jq -r '.ports[0].socketLB[0].endpoints' <<<"$J" 2>/dev/null)" == 1 ]; }
wait_until 600 one || fail "socket LB down to one endpoint" "$J"
LEFT=$(jq -r '.ports[0].endpoints[] | select(.ready) | .ip' <<<"$J" | head -1)
OUT=$(KC exec jumpbox -- bash -c "for i in \$(seq 10); do curl -s -m 3 http://$WEB_IP/; done" 2>&1)
expect_eq "10 new connections all answered" "$(grep -c '^node=' <<<"$OUT")" 10
expect_eq "all by the endpoint left ($LEFT)" "$(grep -o 'pod=[^ ]*' <<<"$OUT" | sort -u)" "pod=$LEFT"

# ---- agent stopped: nothing attached to the cgroup ----
PID=$(cluster_pid 1)
kill -TERM "$PID" 2>/dev/null
gone() { ! kill -0 "$PID" 2>/dev/null; }
wait_until 300 gone || fail "minik8s stops on SIGTERM"
# (bpftool prints nothing and exits 0 for a cgroup without programs, an error
# object and 255 for one it cannot query)
OUT=$(bpftool -j cgroup show "$CGDIR" 2>&1); RC=$?
expect_eq "no program attached to the pods' cgroup after the agent stopped" "rc=$RC '$OUT'" "rc=0 ''"
expect_eq "cgroup still there (pods keep running), so the query was real" "$(test -d "$CGDIR" && echo yes)" yes

# ---- --disable-socket-lb: the node again, nothing attached, pods go through DNAT ----
cluster_up_server --disable-socket-lb || fail "minik8s up --disable-socket-lb" "$(tail -5 "$T/up1.out")"
served() { J=$(TR svc/web -o json 2>&1); [ "$(jq -r '.ports[0].endpoints[] | select(.ready) | .programmed' <<<"$J" 2>/dev/null)" == true ]; }
wait_until 600 served || fail "service programmed after the restart" "$J"
OUT=$(bpftool -j cgroup show "$CGDIR" 2>&1); RC=$?
expect_eq "--disable-socket-lb: nothing attached to the pods' cgroup" "rc=$RC '$OUT'" "rc=0 ''"
NAT0=$(sum TCP natConnections)
OUT=$(KC exec jumpbox -- bash -c "for i in 1 2 3; do curl -s -m 5 http://$WEB_IP/; done" 2>&1)
expect_eq "--disable-socket-lb: the pod's 3 connections answered" "$(grep -c '^node=' <<<"$OUT")" 3
J=$(TR svc/web -o json 2>&1)
expect_eq "--disable-socket-lb: they went the DNAT path (3 more NAT connections)" \
	"$(($(sum TCP natConnections) - NAT0))" 3
expect_eq "--disable-socket-lb: trace shows no socket LB" "$(jq -r '[.ports[].socketLB | length] | add' <<<"$J")" 0
done_testing
