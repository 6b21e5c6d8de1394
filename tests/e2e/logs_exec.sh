#!/bin/bash
# kubectl logs and exec end to end: real kubectl (and minik8s kubectl) -> API server
# (pods/log, pods/exec proxy) -> the agent's streaming server -> real runc containers
# (busybox rootfs) run through pkg/runtime. tests/lib/stream_fixture runs the API
# server, the streaming server and the containers; everything runs in a network
# namespace of this test and under its temp dir.
if [ -z "${MK_LOGS_EXEC_NETNS:-}" ]; then
	exec env MK_LOGS_EXEC_NETNS=1 unshare --net "$0" "$@"
fi
. "$(dirname "$0")/../lib/lib.sh"

KUBECTL=${KUBECTL:-/usr/bin/kubectl}
MINIK8S=${MINIK8S_BIN:-$MINIK8S}
FIXTURE=${STREAM_FIXTURE:-$ROOT/build/tests/lib/stream_fixture}
W=$T/w
mkdir -p "$W"
ip link set lo up

for tool in "$KUBECTL" "$FIXTURE" runc script; do
	command -v "$tool" >/dev/null || { fail setup "$tool missing"; exit 1; }
done
"$ROOT/tests/lib/mkrootfs.sh" "$W/rootfs" >/dev/null || { fail setup "mkrootfs failed"; exit 1; }

stream_fixture_start
export KUBECONFIG=$W/kubeconfig
K() { timeout 30 "$KUBECTL" "$@"; }
M() { timeout 30 "$MINIK8S" kubectl "$@"; }
# C: the implementation under test (CMD)
C() { timeout 30 "${CMD[@]}" "$@"; }
use() { if [ "$1" = kubectl ]; then CMD=("$KUBECTL"); else CMD=("$MINIK8S" kubectl); fi; }

# ---- logs ------------------------------------------------------------------------

for impl in kubectl minik8s; do
	use $impl

	# stdout and stderr are separate pipes: their relative order is not defined
	out=$(C logs web 2>&1)
	expect_eq "$impl logs: stdout lines" "$(grep -v stderr <<<"$out")" $'hello from web\nthird line'
	expect_eq "$impl logs: stderr line" "$(grep -c '^to stderr$' <<<"$out")" 1

	# the ticker prints every 200 ms: wait (bounded) until it has two lines
	for _ in $(seq 50); do [ "$(C logs ticker -c ticker 2>/dev/null | wc -l)" -ge 2 ] && break; sleep 0.2; done
	out=$(C logs ticker -c ticker --tail 2 2>&1)
	a=$(head -1 <<<"$out" | cut -d' ' -f2); b=$(tail -1 <<<"$out" | cut -d' ' -f2)
	if [ "$(wc -l <<<"$out")" = 2 ] && [[ "$a" =~ ^[0-9]+$ ]] && [ "$((b - a))" = 1 ]; then
		pass "$impl logs --tail 2"
	else
		fail "$impl logs --tail 2" "got '$out'"
	fi

	out=$(C logs web --tail=0 2>&1)
	expect_eq "$impl logs --tail 0" "$out" ""

	out=$(C logs web --timestamps 2>&1 | head -1)
	expect_match "$impl logs --timestamps" "$out" '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]+Z hello from web$'

	# follow keeps streaming new lines until the client goes away (timeout ends it;
	# 3 s, times MINIK8S_TEST_SLOW for a sanitized client and server)
	timeout $((3 * MINIK8S_TEST_SLOW)) "${CMD[@]}" logs -f ticker --tail 1 >"$W/follow.$impl" 2>&1
	rc=$?
	n=$(grep -c '^tick [0-9]*$' "$W/follow.$impl")
	first=$(head -1 "$W/follow.$impl" | cut -d' ' -f2)
	last=$(tail -1 "$W/follow.$impl" | cut -d' ' -f2)
	if [ "$rc" = 124 ] && [ "$n" -ge 5 ] && [ "$((last - first + 1))" = "$n" ]; then
		pass "$impl logs -f"
	else
		fail "$impl logs -f" "rc=$rc lines=$n first=$first last=$last: $(head -3 "$W/follow.$impl")"
	fi
done

out=$(K logs multi -c b 2>&1)
expect_match "kubectl logs of a container the node does not run" "$out" 'not found on this node'
out=$(M logs multi 2>&1)
expect_match "minik8s logs needs -c with two containers" "$out" \
	'a container name must be specified for pod multi, choose one of: \[a b\]'
HTTP=$(curl -s -o "$W/body" -w '%{http_code}' --cacert "$W/tls/ca.crt" \
	-H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$API_PORT/api/v1/namespaces/default/pods/multi/log")
expect_eq "API pods/log without container: 400" "$HTTP" 400
expect_match "API pods/log without container: message" "$(cat "$W/body")" \
	'a container name must be specified for pod multi, choose one of: \[a b\]'
out=$(K logs nohost 2>&1)
expect_match "logs of a pod without node" "$out" 'pod nohost does not have a host assigned'

# ---- exec ------------------------------------------------------------------------

for impl in kubectl minik8s; do
	use $impl

	out=$(C exec web -- echo hi 2>&1)
	rc=$?
	expect_eq "$impl exec echo" "$rc:$out" "0:hi"

	out=$(C exec web -- sh -c 'echo out; echo err >&2; exit 3' 2>"$W/err.$impl")
	rc=$?
	expect_eq "$impl exec exit code 3" "$rc:$out" "3:out"
	expect_match "$impl exec stderr" "$(cat "$W/err.$impl")" '^err'

	out=$(printf 'hello\nworld\n' | C exec -i web -- cat 2>&1)
	expect_eq "$impl exec -i cat" "$out" $'hello\nworld'

	# more than one 32 KiB frame each way
	head -c 150000 /dev/urandom | base64 >"$W/big.in"
	C exec -i web -- cat <"$W/big.in" >"$W/big.out.$impl" 2>&1
	check "$impl exec -i with 200 KB of stdin" cmp -s "$W/big.in" "$W/big.out.$impl"

	# a tty: script(1) gives kubectl a terminal of 123x45; kubectl sends that size
	# (resize channel), the shell in the container sees it and answers commands
	cmd="${CMD[*]}"
	printf 'stty size\necho $((6 * 7))\nexit 4\n' |
		timeout 30 script -qec "stty cols 123 rows 45; $cmd exec -it web -- sh" /dev/null \
			>"$W/tty.$impl" 2>&1
	rc=$?
	out=$(tr -d '\r' <"$W/tty.$impl")
	expect_match "$impl exec -it: terminal size" "$out" $'\n45 123\n'
	expect_match "$impl exec -it: command answered" "$out" $'\n42\n'
	expect_eq "$impl exec -it: exit code" "$rc" 4

	out=$(C exec nohost -- true 2>&1)
	expect_match "$impl exec in a pod without node" "$out" 'pod nohost does not have a host assigned'
done

# ---- the agent's port accepts only the API server ------------------------------------

url="https://127.0.0.1:$AGENT_PORT/containerLogs/default/web/web"
HTTP=$(curl -sk -o /dev/null -w '%{http_code}' "$url")
expect_eq "agent without client certificate: 401" "$HTTP" 401
HTTP=$(curl -sk -o /dev/null -w '%{http_code}' --cert "$W/tls/other-client.crt" \
	--key "$W/tls/other-client.key" "$url")
expect_eq "agent with another CA-signed name: 403" "$HTTP" 403
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=minik8s-apiserver -keyout "$W/self.key" -out "$W/self.crt" >/dev/null 2>&1
HTTP=$(curl -sk -o /dev/null -w '%{http_code}' --cert "$W/self.crt" --key "$W/self.key" "$url")
expect_eq "agent with a self-signed apiserver name: 401" "$HTTP" 401
out=$(curl -sk --cert "$W/tls/apiserver-kubelet-client.crt" \
	--key "$W/tls/apiserver-kubelet-client.key" "${url/web\/web/ticker/ticker}?tailLines=1")
expect_match "agent with the API server's certificate" "$out" '^tick [0-9]+$'
done_testing
