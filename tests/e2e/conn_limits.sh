#!/bin/bash
# test: alone (it measures the server under load; see tests/run.sh)
# Connection exhaustion ("Nothing lost, nobody in", item 3): thousands of idle
# sockets, never-ending TLS handshakes and never-ending request headers
# (tests/lib/conn_flood, which reopens what the server closes) against the API
# server, the DNS server's TCP port and the agent's streaming port (10250). Each
# server must keep answering its real clients meanwhile: kubectl get, dig +tcp,
# kubectl logs (API server -> agent). Also: an authenticated watch and an exec
# session stay up while anonymous connections are being dropped, a lone
# slow-header connection is closed by the header deadline, and anonymous replies
# close their connection. Runs in a network namespace of its own (lo only); all
# traffic is to 127.0.0.1 there.
if [ -z "${MK_CONN_LIMITS_NETNS:-}" ]; then
	exec env MK_CONN_LIMITS_NETNS=1 unshare --net "$0" "$@"
fi
. "$(dirname "$0")/../lib/lib.sh"
ip link set lo up

KUBECTL=${KUBECTL:-/usr/bin/kubectl}
FLOOD=$ROOT/build/tests/lib/conn_flood
FIXTURE=$ROOT/build/tests/lib/stream_fixture
SERVE=$ROOT/build/bench/dns/dns_serve
for tool in "$KUBECTL" "$FLOOD" "$FIXTURE" "$SERVE" "$MINIK8S" runc dig ss; do
	command -v "$tool" >/dev/null || { fail setup "$tool missing (make all; scripts/deps.sh)"; exit 1; }
done
# the attackers hold thousands of sockets; the servers need room for their budgets
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
curl_max_time 20

# flood NAME PORT ARGS...: starts conn_flood against 127.0.0.1:PORT in the
# background (refilling what the server closes) and waits until the attack is in
# place; FLOOD_PID, output in $T/NAME.out
flood() {
	local name=$1 port=$2; shift 2
	rm -f "$T/$name.ready"
	"$FLOOD" --port "$port" --refill --rate 400 --duration 240 --ready-file "$T/$name.ready" \
		"$@" >"$T/$name.out" 2>&1 &
	FLOOD_PID=$!
	_PIDS+=("$FLOOD_PID")
	wait_until 300 test -s "$T/$name.ready"
}
# flood_stop: ends the running flood; FLOOD_STATS is its summary line
flood_stop() {
	kill "$FLOOD_PID" 2>/dev/null
	wait "$FLOOD_PID" 2>/dev/null
	FLOOD_STATS=$(tail -1 "$T/$FLOOD_NAME.out")
}
stat_of() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$FLOOD_STATS"; }
# established PORT: established TCP connections to 127.0.0.1:PORT (server side)
established() { ss -Htn state established "( sport = :$1 )" | wc -l; }

# ---- API server ----------------------------------------------------------------------

start_server || { fail api_server "server did not start"; exit 1; }
K() { timeout 60 "$KUBECTL" --request-timeout=30s "$@"; }

# an authenticated watch, open before the attack and quiet during it
timeout 200 "$KUBECTL" get pods -w --no-headers -o name >"$T/watch.out" 2>"$T/watch.err" &
WATCH_PID=$!
_PIDS+=("$WATCH_PID")
wait_until 100 K get pods >/dev/null 2>&1

FLOOD_NAME=api
if flood api "$PORT" --idle 3000 --slow-tls 1000 --slow-headers 1000 --tls; then
	pass "api: attack in place ($(cat "$T/api.ready"), $(established "$PORT") established)"
else
	fail "api: attack in place" "conn_flood never got its connections up: $(cat "$T/api.out")"
fi
out=$(K get pods -A 2>&1)
expect_eq "api: kubectl get pods answers under attack" "$?:$out" "0:No resources found"
api GET /api/v1/namespaces/default
expect_code "api: authenticated curl answers under attack" 200
out=$(K get ns default -o jsonpath='{.metadata.name}' 2>&1)
expect_eq "api: kubectl get ns answers under attack" "$out" "default"
# past the 10 s header deadline, with the flood still running: the watch is alive
sleep 12
cat >"$T/pod.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: late}
spec: {containers: [{name: c, image: busybox}]}
EOF
out=$(K apply -f "$T/pod.yaml" 2>&1)
expect_eq "api: kubectl apply answers under attack" "$out" "pod/late created"
if wait_until 100 grep -qx 'pod/late' "$T/watch.out"; then
	pass "api: watch opened before the attack still delivers events"
else
	fail "api: watch opened before the attack still delivers events" \
		"watch output '$(cat "$T/watch.out")', stderr '$(tail -2 "$T/watch.err")'"
fi
flood_stop
dropped=$(stat_of closed_by_peer)
if num_cmp "$dropped" '>' 0; then pass "api: anonymous connections were dropped ($FLOOD_STATS)"
else fail "api: anonymous connections were dropped" "$FLOOD_STATS"; fi
check "api: server healthy after the attack" server_healthy

# anonymous replies close their connection; authenticated ones keep it
hdr=$(curl -s -D - -o /dev/null --cacert "$CACERT" "$API/healthz" | tr -d '\r' | grep -i '^connection:')
expect_eq "api: anonymous reply closes the connection" "${hdr,,}" "connection: close"
hdr=$(curl -s -D - -o /dev/null --cacert "$CACERT" -H "Authorization: Bearer $TOKEN" \
	"$API/api/v1/namespaces" | tr -d '\r' | grep -ci '^connection: close')
expect_eq "api: authenticated reply keeps the connection" "$hdr" 0

# a lone slow-header client (no pressure at all on the API server) is cut by the
# header deadline, although it sends a byte every second; its 10 s run beside the
# DNS server's part below (another server), its verdict after it
"$FLOOD" --port "$PORT" --slow-headers 3 --tls --trickle-ms 1000 --duration 25 \
	--ready-file "$T/lone.ready" >"$T/lone.out" 2>&1 &
LONE_PID=$!
_PIDS+=("$LONE_PID")

# ---- DNS over TCP --------------------------------------------------------------------

"$SERVE" --kubeconfig "$KUBECONFIG" --listen 127.0.0.1 --port 0 --workers 1 \
	--ready-file "$T/dns.port" 2>"$T/dns.log" &
_PIDS+=($!)
if wait_until 100 test -s "$T/dns.port"; then
	DP=$(cat "$T/dns.port")
	dig_tcp() { dig @127.0.0.1 -p "$DP" +tcp +time=5 +tries=1 +short kubernetes.default.svc.cluster.local 2>&1; }
	want=$(dig_tcp)
	expect_match "dns: tcp answers before the attack" "$want" '^10\.[0-9.]+$'
	FLOOD_NAME=dns
	if flood dns "$DP" --idle 1500 --slow-headers 500; then
		pass "dns: attack in place ($(cat "$T/dns.ready"))"
	else
		fail "dns: attack in place" "$(cat "$T/dns.out")"
	fi
	expect_eq "dns: tcp answers under attack" "$(dig_tcp)" "$want"
	expect_eq "dns: tcp answers under attack (again)" "$(dig_tcp)" "$want"
	flood_stop
	dropped=$(stat_of closed_by_peer)
	if num_cmp "$dropped" '>' 0; then pass "dns: idle connections were dropped ($FLOOD_STATS)"
	else fail "dns: idle connections were dropped" "$FLOOD_STATS"; fi
else
	fail "dns: runner started" "$(cat "$T/dns.log")"
fi

wait "$LONE_PID"
FLOOD_STATS=$(tail -1 "$T/lone.out")
expect_eq "api: slow headers cut by the deadline ($FLOOD_STATS)" "$(stat_of open)" 0

# ---- agent streaming port (10250) ----------------------------------------------------

W=$T/w
mkdir -p "$W"
"$ROOT/tests/lib/mkrootfs.sh" "$W/rootfs" >/dev/null || { fail setup "mkrootfs failed"; exit 1; }
API_PORT=$(free_port)
AGENT_PORT=$(free_port)
FTOKEN=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
on_exit "for c in web-web ticker-ticker; do runc --root '$W/runc' delete -f \$c; done"
"$FIXTURE" "$W" "$W/rootfs" "$API_PORT" "$AGENT_PORT" "$FTOKEN" >"$W/fixture.out" 2>"$W/fixture.err" &
_PIDS+=($!)
if ! wait_until 150 grep -q READY "$W/fixture.out"; then
	fail "agent: fixture started" "$(tail -5 "$W/fixture.err")"
	exit 1
fi
KA() { KUBECONFIG=$W/kubeconfig timeout 60 "$KUBECTL" --request-timeout=30s "$@"; }
out=$(KA logs web 2>&1 | grep -c 'hello from web')
expect_eq "agent: kubectl logs before the attack" "$out" 1
FLOOD_NAME=agent
if flood agent "$AGENT_PORT" --idle 1500 --slow-tls 500 --slow-headers 300 --tls; then
	pass "agent: attack in place ($(cat "$T/agent.ready"), $(established "$AGENT_PORT") established)"
else
	fail "agent: attack in place" "$(cat "$T/agent.out")"
fi
out=$(KA logs web 2>&1 | grep -c 'hello from web')
expect_eq "agent: kubectl logs answers under attack" "$out" 1
out=$(KA exec web -- echo hi 2>&1)
expect_eq "agent: kubectl exec answers under attack" "$out" "hi"
# an exec session that stays quiet past the 10 s anonymous deadline, under the
# attack, is not cut (upgraded connections on both servers are exempt)
out=$( (sleep 12; echo late) | KA exec -i web -- cat 2>&1)
expect_eq "agent: quiet exec session survives the attack" "$out" "late"
flood_stop
dropped=$(stat_of closed_by_peer)
if num_cmp "$dropped" '>' 0; then pass "agent: anonymous connections were dropped ($FLOOD_STATS)"
else fail "agent: anonymous connections were dropped" "$FLOOD_STATS"; fi
done_testing
