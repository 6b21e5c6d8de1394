# Shell helpers for end-to-end tests. Source it: . "$(dirname "$0")/../lib/lib.sh"
# Reports "PASS: name" / "FAIL: name: why" lines that tests/run.sh counts.
# Everything a test creates lives under $T (a temp dir) and is removed on exit,
# including on failure; servers started here are killed by PID.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MINIK8S="$ROOT/build/minik8s"
T=$(mktemp -d /tmp/minik8s-e2e.XXXXXX)
_PIDS=()
_CLEANUPS=()

cleanup() {
	local i
	for ((i = ${#_CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${_CLEANUPS[$i]}" >/dev/null 2>&1; done
	for p in "${_PIDS[@]}"; do
		kill "$p" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# on_exit CMD: run CMD at cleanup (last registered first)
on_exit() { _CLEANUPS+=("$*"); }

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1${2:+: $2}"; }
# check NAME CMD...: PASS if CMD succeeds
check() { local n=$1; shift; if "$@"; then pass "$n"; else fail "$n" "command failed: $*"; fi; }
# expect_eq NAME GOT WANT
expect_eq() { if [ "$2" == "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi; }
# expect_match NAME TEXT REGEX
expect_match() { if [[ "$2" =~ $3 ]]; then pass "$1"; else fail "$1" "'$2' does not match /$3/"; fi; }

# free_port: a TCP port free on 127.0.0.1
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_server [EXTRA_FLAGS...]: starts `minik8s server` on 127.0.0.1 with its own data
# dir; sets SERVER_PID, API (https://127.0.0.1:PORT), TOKEN, KUBECONFIG, CACERT, DATA.
start_server() {
	DATA=${DATA:-$T/data}
	PORT=${PORT:-$(free_port)}
	KUBECONFIG=$T/kubeconfig
	"$MINIK8S" server --data-dir "$DATA" --bind-address 127.0.0.1 --https-listen-port "$PORT" \
		--write-kubeconfig "$KUBECONFIG" --disable-agent "$@" >>"$T/server.log" 2>&1 &
	SERVER_PID=$!
	_PIDS+=("$SERVER_PID")
	API=https://127.0.0.1:$PORT
	CACERT=$DATA/tls/ca.crt
	local i
	for i in $(seq 100); do
		if [ -f "$KUBECONFIG" ] && curl -sf --cacert "$CACERT" "$API/healthz" >/dev/null 2>&1; then
			TOKEN=$(cat "$DATA/token")
			export KUBECONFIG
			return 0
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "server did not start; log:"; tail -20 "$T/server.log"
	return 1
}

# stop_server [SIGNAL]: stops the server started by start_server
stop_server() {
	kill -"${1:-TERM}" "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
}

# api METHOD PATH [curl args...]: authenticated request; sets BODY and HTTP_CODE
# (call it directly, not in $(...), so the variables reach the caller)
api() {
	local m=$1 p=$2; shift 2
	HTTP_CODE=$(curl -s --cacert "$CACERT" -H "Authorization: Bearer $TOKEN" -X "$m" \
		-o "$T/.body" -w '%{http_code}' "$@" "$API$p")
	BODY=$(cat "$T/.body")
}
